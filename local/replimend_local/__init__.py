"""The embedded AWS: moto in server mode plus emulators of what moto lacks, and a runner that
wires the real handlers the way template.yaml wires them. A development tool: never shipped in
the Lambda layer."""
