//! Kimi Code: what jackin does for it beyond its catalogue row.
//!
//! Kimi Code reads no credential from the environment except through its `KIMI_MODEL_*`
//! family (MoonshotAI/kimi-code `docs/en/configuration/env-vars.md`): `KIMI_MODEL_API_KEY`
//! carries the key and `KIMI_MODEL_NAME` is required as well — it is the switch that turns the
//! channel on, and "if `KIMI_MODEL_NAME` is set but a required variable is missing, startup
//! fails immediately". A key alone does nothing. So in api_key mode the role's model goes to
//! `KIMI_MODEL_NAME` (unless the operator set that variable in an env layer), and `--model` is
//! not passed: it takes an alias from config.toml and would win over the env model ("the
//! `-m <alias>` option at startup still has the highest priority", same page).
//! `KIMI_MODEL_PROVIDER_TYPE` (default `kimi`) and `KIMI_MODEL_BASE_URL` (a default per type)
//! are optional; operators set them in an env layer when they need another provider.
//!
//! The Python Kimi CLI (`kimi`) takes the same variable: with no config.toml model,
//! `KIMI_MODEL_NAME` names the model its env provider uses (kimi-cli `src/kimi_cli/llm.py`
//! `augment_provider_with_env_vars`; measured with 1.52.0, SPEC v3 §3a), so api_key mode
//! passes the role's model there too, and `--model` (a config.toml alias) is not passed.

use super::AuthMode;

pub const MODEL_ENV: &str = "KIMI_MODEL_NAME";

pub fn model_env(mode: AuthMode) -> Option<&'static str> {
    match mode {
        AuthMode::ApiKey => Some(MODEL_ENV),
        AuthMode::Sync | AuthMode::OauthToken | AuthMode::Ignore => None,
    }
}
