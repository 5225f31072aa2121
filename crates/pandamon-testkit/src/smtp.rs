//! A real SMTP server for tests: Debian's python3-aiosmtpd, writing each message it receives
//! to a Maildir. A test that cannot start it fails and says what to install.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A running SMTP sink; stopped and its Maildir removed on drop.
pub struct SmtpSink {
    child: Child,
    pub port: u16,
    maildir: PathBuf,
}

impl SmtpSink {
    pub fn start(label: &str) -> SmtpSink {
        let port = free_port();
        let maildir = std::env::temp_dir().join(format!("pandamon-{label}-{port}.maildir"));
        let _ = std::fs::remove_dir_all(&maildir);
        let mut child = Command::new("/usr/bin/python3")
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start the SMTP sink: install Debian's python3-aiosmtpd");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return SmtpSink {
                    child,
                    port,
                    maildir,
                };
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "the SMTP sink (python3 -m aiosmtpd, Debian python3-aiosmtpd) did not listen on port {port}"
        );
    }

    /// `smtp://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The messages received so far, as text: headers unfolded, quoted-printable soft breaks
    /// and `=3D` undone.
    pub fn messages(&self) -> Vec<String> {
        let mut out = Vec::new();
        for dir in ["new", "cur"] {
            let Ok(entries) = std::fs::read_dir(self.maildir.join(dir)) else {
                continue;
            };
            for entry in entries.flatten() {
                if let Ok(text) = std::fs::read_to_string(entry.path()) {
                    out.push(
                        text.replace("=\r\n", "")
                            .replace("=\n", "")
                            .replace("=3D", "=")
                            .replace("\n ", " "),
                    );
                }
            }
        }
        out
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.maildir);
    }
}

/// A port nothing listens on (a moment ago).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
