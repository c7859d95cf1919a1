//! Host capabilities. Inside wasm they call the host; natively they call the
//! thread's [`crate::testing::TestHost`], so plugin tests need no runtime.
//!
//! Each capability must be granted to the plugin by the tenant. An ungranted one
//! answers [`HostError::Denied`](crate::HostError::Denied) (or, for `log`, drops
//! the line).

/// Logging, tagged by the host with tenant, plugin and conversation.
pub mod log {
    pub use crate::bindings::switchboard::plugin::log::Level;

    pub fn log(level: Level, message: &str) {
        #[cfg(target_arch = "wasm32")]
        crate::bindings::switchboard::plugin::log::log(level, message);
        #[cfg(not(target_arch = "wasm32"))]
        crate::testing::with_host(|host| host.logs.push((level, message.to_owned())));
    }

    pub fn debug(message: &str) {
        log(Level::Debug, message);
    }

    pub fn info(message: &str) {
        log(Level::Info, message);
    }

    pub fn warn(message: &str) {
        log(Level::Warn, message);
    }
}

/// Read-only tenant settings and secrets.
pub mod config {
    use crate::HostError;

    pub fn get(name: &str) -> Result<Option<String>, HostError> {
        #[cfg(target_arch = "wasm32")]
        return crate::bindings::switchboard::plugin::config::get(name);
        #[cfg(not(target_arch = "wasm32"))]
        crate::testing::with_host(|host| host.setting(name))
    }

    pub fn secret(name: &str) -> Result<Option<String>, HostError> {
        #[cfg(target_arch = "wasm32")]
        return crate::bindings::switchboard::plugin::config::secret(name);
        #[cfg(not(target_arch = "wasm32"))]
        crate::testing::with_host(|host| host.secret(name))
    }
}

/// Key-value state scoped to this plugin and tenant.
pub mod kv {
    use crate::HostError;

    pub fn get(key: &str) -> Result<Option<Vec<u8>>, HostError> {
        #[cfg(target_arch = "wasm32")]
        return crate::bindings::switchboard::plugin::kv::get(key);
        #[cfg(not(target_arch = "wasm32"))]
        crate::testing::with_host(|host| host.kv_result().map(|()| host.kv.get(key).cloned()))
    }

    pub fn set(key: &str, value: &[u8]) -> Result<(), HostError> {
        #[cfg(target_arch = "wasm32")]
        return crate::bindings::switchboard::plugin::kv::set(key, value);
        #[cfg(not(target_arch = "wasm32"))]
        crate::testing::with_host(|host| {
            host.kv_result().map(|()| {
                host.kv.insert(key.to_owned(), value.to_vec());
            })
        })
    }

    pub fn delete(key: &str) -> Result<(), HostError> {
        #[cfg(target_arch = "wasm32")]
        return crate::bindings::switchboard::plugin::kv::delete(key);
        #[cfg(not(target_arch = "wasm32"))]
        crate::testing::with_host(|host| {
            host.kv_result().map(|()| {
                host.kv.remove(key);
            })
        })
    }
}
