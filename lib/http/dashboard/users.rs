//! The dashboard's users (`dashboard.users-file`), in the original's JSON format: a list of
//! `{username, hash, role, must_change, password_set_at, failed_attempts, locked_until,
//! created_at}` with bcrypt hashes and Unix-second times. Checks a login (with lockout after
//! repeated failures), changes a password, adds a user (`comqtt dashboard add-user`); every
//! change is written back to the file at once (a temporary file renamed over it).

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

/// Failed logins in a row that lock a user out.
pub const LOCKOUT_AFTER: u32 = 5;
/// How long a lockout lasts, seconds.
pub const LOCKOUT_SECONDS: u64 = 15 * 60;
/// Cost of the bcrypt hashes this build writes.
const BCRYPT_COST: u32 = 10;
/// The shortest password accepted.
pub const MIN_PASSWORD: usize = 8;

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everything the HTTP API allows with its token.
    Admin,
    /// Look only.
    Viewer,
}

impl Role {
    /// `admin`; any other role (the original's `viewer`, `readonly`, ...) looks only.
    pub fn of(name: &str) -> Role {
        if name.eq_ignore_ascii_case("admin") {
            Role::Admin
        } else {
            Role::Viewer
        }
    }

    /// The name written in cookies and shown by the page.
    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Viewer => "viewer",
        }
    }
}

/// One user as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserRecord {
    pub username: String,
    /// bcrypt hash of the password.
    pub hash: String,
    /// `admin`, or anything else for a read-only user.
    #[serde(default)]
    pub role: String,
    /// The user must choose a new password before doing anything else.
    #[serde(default)]
    pub must_change: bool,
    /// When the password was last set, Unix seconds (sessions from before are void).
    #[serde(default)]
    pub password_set_at: u64,
    /// Failed logins in a row.
    #[serde(default)]
    pub failed_attempts: u32,
    /// Locked out until then, Unix seconds (0: not locked).
    #[serde(default)]
    pub locked_until: u64,
    #[serde(default)]
    pub created_at: u64,
}

/// Why a users file cannot be used or changed.
#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    /// The file cannot be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not the users JSON.
    #[error("{path}: not a dashboard users file: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A hash could not be made.
    #[error("hashing the password: {0}")]
    Hash(String),
    /// The user exists already.
    #[error("user {0:?} exists already")]
    Exists(String),
    /// The password is too short.
    #[error("a password needs at least {MIN_PASSWORD} characters")]
    Weak,
}

/// Why a login failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginError {
    /// Unknown user or wrong password (not said which).
    Wrong,
    /// Too many failures: locked until this Unix second.
    Locked(u64),
}

/// The users of one file.
#[derive(Debug)]
pub struct Users {
    path: PathBuf,
    users: Mutex<Vec<UserRecord>>,
    /// Held across a whole save (merge, write, rename): saves never interleave.
    saving: Mutex<()>,
}

/// Now, Unix seconds.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Users {
    /// Reads `path`; a missing file is no users (nobody can log in until one is added).
    pub fn load(path: &Path) -> Result<Users, UsersError> {
        let users = match std::fs::read_to_string(path) {
            Ok(text) if text.trim().is_empty() => Vec::new(),
            Ok(text) => serde_json::from_str(&text).map_err(|e| UsersError::Format {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(source) => {
                return Err(UsersError::Io {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        Ok(Users {
            path: path.to_path_buf(),
            users: Mutex::new(users),
            saving: Mutex::new(()),
        })
    }

    /// How many users there are.
    pub fn len(&self) -> usize {
        self.users.lock().len()
    }

    /// True with no user.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes the users out: a temporary file renamed over the file, one save at a time,
    /// from the list as it is when the save starts. Users the file has and this list does not
    /// (added by `comqtt dashboard add-user` while the node runs) are taken in first.
    fn save(&self) -> Result<(), UsersError> {
        let _saving = self.saving.lock();
        let io = |source| UsersError::Io {
            path: self.path.clone(),
            source,
        };
        if let Ok(text) = std::fs::read_to_string(&self.path)
            && let Ok(on_disk) = serde_json::from_str::<Vec<UserRecord>>(&text)
        {
            let mut users = self.users.lock();
            for u in on_disk {
                if !users.iter().any(|known| known.username == u.username) {
                    users.push(u);
                }
            }
        }
        let snapshot = self.users.lock().clone();
        let text = serde_json::to_string_pretty(&snapshot).map_err(|e| UsersError::Format {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let tmp = self
            .path
            .with_extension(format!("json.{}.tmp", std::process::id()));
        std::fs::write(&tmp, text).map_err(io)?;
        std::fs::rename(&tmp, &self.path).map_err(io)
    }

    /// The user, if any.
    pub fn get(&self, username: &str) -> Option<UserRecord> {
        self.users
            .lock()
            .iter()
            .find(|u| u.username == username)
            .cloned()
    }

    /// Counts a password attempt of `username` before it is checked (so concurrent guesses
    /// cannot pass the lockout together): `Err` while locked, and the attempt that reaches
    /// the limit locks.
    fn reserve_attempt(&self, username: &str) -> Result<(), LoginError> {
        let t = now();
        let mut users = self.users.lock();
        let Some(stored) = users.iter_mut().find(|u| u.username == username) else {
            return Err(LoginError::Wrong);
        };
        if stored.locked_until > t {
            return Err(LoginError::Locked(stored.locked_until));
        }
        stored.failed_attempts += 1;
        if stored.failed_attempts >= LOCKOUT_AFTER {
            // Locked from now on unless this very attempt proves right (see `settle`).
            stored.locked_until = t + LOCKOUT_SECONDS;
        }
        Ok(())
    }

    /// Records the outcome of a reserved attempt: a right password clears the count (and the
    /// lock its own attempt set, but no lock of other attempts' making).
    fn settle(&self, username: &str, right: bool) -> Result<(), LoginError> {
        let mut users = self.users.lock();
        let Some(stored) = users.iter_mut().find(|u| u.username == username) else {
            return Err(LoginError::Wrong);
        };
        let outcome = if right && stored.failed_attempts <= LOCKOUT_AFTER {
            stored.failed_attempts = 0;
            stored.locked_until = 0;
            Ok(())
        } else if stored.locked_until > now() {
            if stored.failed_attempts >= LOCKOUT_AFTER {
                tracing::warn!(
                    user = username,
                    "dashboard: user locked out after repeated failed password attempts"
                );
                stored.failed_attempts = 0;
            }
            Err(LoginError::Locked(stored.locked_until))
        } else {
            Err(LoginError::Wrong)
        };
        drop(users);
        if let Err(e) = self.save() {
            tracing::warn!(error = %e, "dashboard: cannot write the users file");
        }
        outcome
    }

    /// Checks a login (bcrypt: call off the async threads). Every attempt counts towards the
    /// lockout until one is right; a locked user is refused either way.
    pub fn login(&self, username: &str, password: &str) -> Result<UserRecord, LoginError> {
        if self.get(username).is_none() {
            // The same work as a real check, so timing does not tell who exists.
            let _ = bcrypt::verify(password, dummy_hash());
            return Err(LoginError::Wrong);
        }
        self.reserve_attempt(username)?;
        let hash = self.get(username).map(|u| u.hash).unwrap_or_default();
        let right = bcrypt::verify(password, &hash).unwrap_or(false);
        self.settle(username, right)?;
        self.get(username).ok_or(LoginError::Wrong)
    }

    /// Sets a user's password (after checking the current one); clears `must_change`.
    pub fn change_password(
        &self,
        username: &str,
        current: &str,
        new: &str,
    ) -> Result<UserRecord, ChangeError> {
        if new.chars().count() < MIN_PASSWORD {
            return Err(ChangeError::Users(UsersError::Weak));
        }
        let user = self.get(username).ok_or(ChangeError::Wrong)?;
        // A wrong current password counts towards the lockout, as a failed login does.
        self.reserve_attempt(username)
            .map_err(|_| ChangeError::Wrong)?;
        let right = bcrypt::verify(current, &user.hash).unwrap_or(false);
        if self.settle(username, right).is_err() || !right {
            return Err(ChangeError::Wrong);
        }
        let hash = bcrypt::hash(new, BCRYPT_COST)
            .map_err(|e| ChangeError::Users(UsersError::Hash(e.to_string())))?;
        let mut users = self.users.lock();
        let stored = users
            .iter_mut()
            .find(|u| u.username == username)
            .ok_or(ChangeError::Wrong)?;
        stored.hash = hash;
        stored.must_change = false;
        // Strictly later than any session issued before (sessions carry this stamp).
        stored.password_set_at = now().max(stored.password_set_at + 1);
        let changed = stored.clone();
        drop(users);
        self.save().map_err(ChangeError::Users)?;
        Ok(changed)
    }

    /// Adds a user with a bcrypt hash of `password` and writes the file.
    pub fn add(&self, username: &str, password: &str, role: Role) -> Result<(), UsersError> {
        if password.chars().count() < MIN_PASSWORD {
            return Err(UsersError::Weak);
        }
        if self.get(username).is_some() {
            return Err(UsersError::Exists(username.to_string()));
        }
        let hash =
            bcrypt::hash(password, BCRYPT_COST).map_err(|e| UsersError::Hash(e.to_string()))?;
        let t = now();
        let mut users = self.users.lock();
        users.push(UserRecord {
            username: username.to_string(),
            hash,
            role: role.name().to_string(),
            must_change: false,
            password_set_at: t,
            failed_attempts: 0,
            locked_until: 0,
            created_at: t,
        });
        drop(users);
        self.save()
    }
}

/// Why a password change failed.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// The current password is wrong.
    #[error("the current password is wrong")]
    Wrong,
    /// The file or the new password.
    #[error(transparent)]
    Users(UsersError),
}

/// A bcrypt hash checked for unknown users (made once).
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| bcrypt::hash("no user has this password", BCRYPT_COST).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("comqtt-users-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir.join("users.json")
    }

    #[test]
    fn a_user_added_logs_in_and_is_locked_out_after_repeated_failures() {
        let path = temp("lockout");
        let users = Users::load(&path).unwrap();
        assert!(users.is_empty());
        users.add("ann", "correct horse", Role::Admin).unwrap();
        assert!(matches!(
            users.add("ann", "whatever1", Role::Viewer),
            Err(UsersError::Exists(_))
        ));
        assert!(matches!(
            users.add("bo", "short", Role::Viewer),
            Err(UsersError::Weak)
        ));
        let reread = Users::load(&path).unwrap();
        assert_eq!(reread.login("ann", "correct horse").unwrap().role, "admin");
        assert_eq!(reread.login("nobody", "x"), Err(LoginError::Wrong));
        for _ in 1..LOCKOUT_AFTER {
            assert_eq!(reread.login("ann", "wrong"), Err(LoginError::Wrong));
        }
        assert!(matches!(
            reread.login("ann", "wrong"),
            Err(LoginError::Locked(_))
        ));
        assert!(
            matches!(
                reread.login("ann", "correct horse"),
                Err(LoginError::Locked(_))
            ),
            "locked even with the right password"
        );
        assert!(Users::load(&path).unwrap().get("ann").unwrap().locked_until > now());
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn a_changed_password_replaces_the_old_one() {
        let path = temp("change");
        let users = Users::load(&path).unwrap();
        users.add("ann", "first password", Role::Viewer).unwrap();
        let before = users.get("ann").unwrap().password_set_at;
        assert!(matches!(
            users.change_password("ann", "wrong", "second password"),
            Err(ChangeError::Wrong)
        ));
        let changed = users
            .change_password("ann", "first password", "second password")
            .unwrap();
        assert!(changed.password_set_at > before);
        assert!(users.login("ann", "first password").is_err());
        assert!(users.login("ann", "second password").is_ok());
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }
}
