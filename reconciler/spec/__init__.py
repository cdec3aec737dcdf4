"""Stack files in, a validated and normalized `Desired` out: YAML loading with line:col
marks (loader), the JSON Schema (schema_check), semantic checks (semantic*), normalization
with defaults and units (normalize*, units), warnings about risky settings (risks). Imports
`model` and `support` only; nothing here changes the host: it reads the stack files, the
files they name (env files, bind sources) and, for limits, the online CPUs (hostfacts)."""
