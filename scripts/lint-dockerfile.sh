#!/usr/bin/env sh
# Lints the Lambda image's Dockerfile offline. dockerfilelint's exit code is the number of issues.
set -eu
cd "$(dirname "$0")/.."
exec npx --no-install dockerfilelint Dockerfile
