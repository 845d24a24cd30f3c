//! Progress of `upgrade`/`downgrade` on a terminal: a bar over the revisions
//! and one line per revision with its time. Nothing when stderr is not a
//! terminal or with `--quiet`.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use migrate::runtime::Event;
use migrate::script::Direction;
use std::io::IsTerminal;

/// Draws the progress of one run.
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A progress display, active only on a terminal and without `--quiet`/`--json`.
    pub fn new(quiet: bool) -> Self {
        let active = !quiet && std::io::stderr().is_terminal();
        Progress { bar: active.then(|| ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())) }
    }

    /// Handles one event of the run.
    pub fn event(&mut self, event: Event<'_>) {
        let Some(bar) = &self.bar else { return };
        match event {
            Event::Started { index, total, step } => {
                if index == 0 {
                    bar.set_length(total as u64);
                    bar.set_style(
                        ProgressStyle::with_template("{bar:30} {pos}/{len} {wide_msg}")
                            .expect("a valid template")
                            .progress_chars("=> "),
                    );
                }
                bar.set_message(format!("{} {}", step.revision, step.message));
            }
            Event::Finished { step, elapsed, .. } => {
                let verb = match step.direction {
                    Direction::Up => "upgraded to",
                    Direction::Down => "downgraded from",
                };
                bar.println(format!(
                    "  {verb} {} {} ({:.0} ms)",
                    step.revision,
                    step.message,
                    elapsed.as_secs_f64() * 1000.0
                ));
                bar.inc(1);
            }
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
