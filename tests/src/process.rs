//! Running the `relay-product` binary as a child process, to kill it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use anyhow::Context as _;

/// A product running as a child process; its stderr goes to a log file.
pub struct ChildProduct {
    /// The process.
    pub child: Child,
    /// Where its stderr goes.
    pub log: PathBuf,
}

/// Starts `binary` with `envs` (added to a clean `MESHKIT_*`-free environment),
/// logging its stderr to `log`.
pub fn spawn(binary: &Path, envs: &[(&str, String)], log: &Path) -> anyhow::Result<ChildProduct> {
    let file = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let mut command = Command::new(binary);
    for (key, _) in std::env::vars() {
        if key.starts_with("MESHKIT_") {
            command.env_remove(key);
        }
    }
    command.envs(envs.iter().map(|(k, v)| (*k, v.as_str())));
    if std::env::var("RUST_LOG").is_err() {
        command.env("RUST_LOG", "info,rdkafka=warn");
    }
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(file))
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    Ok(ChildProduct {
        child,
        log: log.to_path_buf(),
    })
}

impl ChildProduct {
    /// Kills it with SIGKILL: no commit, no goodbye.
    pub fn kill9(&mut self) -> anyhow::Result<()> {
        self.child.kill().context("SIGKILL")?;
        self.child.wait().context("reaping")?;
        Ok(())
    }

    /// Asks it to stop with SIGTERM and waits up to `timeout` for it to exit.
    pub fn terminate(&mut self, timeout: Duration) -> anyhow::Result<ExitStatus> {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .context("sending SIGTERM")?;
        self.wait(timeout)
    }

    /// Waits up to `timeout` for it to exit by itself.
    pub fn wait(&mut self, timeout: Duration) -> anyhow::Result<ExitStatus> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                anyhow::bail!("did not exit within {timeout:?}; log:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What it wrote to stderr so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ChildProduct {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A binary of another package of this workspace (such as the `meshkit`
/// command-line tool), next to this test's own executable.
pub fn workspace_binary(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("this test's path")?;
    // target/<profile>/deps/<test> -> target/<profile>/<name>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .context("the target directory")?;
    let binary = dir.join(name);
    anyhow::ensure!(
        binary.is_file(),
        "{} is not built; `cargo test --workspace` (the README's test command) builds it",
        binary.display()
    );
    Ok(binary)
}
