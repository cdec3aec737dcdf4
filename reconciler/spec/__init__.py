"""Stack files in, a validated and normalized `Desired` out: YAML loading with line:col
marks (loader), the JSON Schema (schema_check), semantic checks (semantic*), normalization
with defaults and units (normalize*, units). Imports `model` and `support` only; nothing here
touches the host beyond reading the stack files it is given."""
