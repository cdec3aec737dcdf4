"""Compose files as input (issue 15): load and merge a Compose project (`project.py`,
`load.py`), then map it onto the stack model (`to_stack.py`) so the stack pipeline checks,
normalizes and plans it like any stack file.

Loading, for its callers: `load.load_compose(files, options) -> ComposeProject` (problems on
the result, never raised); `discover.find_compose_files(folder, environ)` (the default
files when no -f is given), `discover.looks_like_compose(path)` (a Compose file or a stack
file), `discover.normalize_project_name(name)`. Inside, one module per step: `yamlload`
(YAML with `!reset`/`!override`), `interpolate`, `dotenv`, `include`, `extends`, `merge`
and `unique` (Compose's merge rules), `paths`, `profiles`, `model` (the steps in order),
over located nodes (`nodes`). Imports only `spec.loader` and `model` of ours.

Mapping: `entry.load_compose_file(files, request)` is what `spec/stacks.py` calls: the
loaded project through `to_stack.compose_loaded`, a `located.ComposeLoadedFile` whose
problems point into the Compose files; one module per group of keys (`service`,
`env_file`, `ports`, `volumes`, `limits`, `networks`). These also import `spec.files`;
`spec/convert.py` (which prints the stack YAML after the stack checks) sits beside this
package, since the stack checks may import this package (spec/ imports spec/compose/,
never the reverse).
"""
