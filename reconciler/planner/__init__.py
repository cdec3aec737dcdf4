"""The pure heart: `plan(desired, observed, options) -> Plan`, depends_on conditions,
and renderers of a plan as text, JSON and Markdown. No I/O and no clock (time is an
input); imports `model` only."""
