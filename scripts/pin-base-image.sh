#!/usr/bin/env sh
# Pins the Lambda base image by digest: asks public.ecr.aws (anonymous token, then a HEAD of the
# tag's manifest) for the digest the tag points to now, and rewrites the Dockerfile's
# `ARG NODE_BASE=<repository>:<tag>[@<digest>]` line to carry it. The digest is the one of the multi-arch index (or of the single manifest when the
# tag has no index): Docker picks the linux/amd64 image from it at build time.
#
#   sh scripts/pin-base-image.sh            # rewrite the Dockerfile
#   sh scripts/pin-base-image.sh --check    # only print the current digest and whether we pin it
#
# Needs the network (public.ecr.aws) and curl; it cannot run on a machine that reaches only the npm
# registry and Debian. Review the Dockerfile diff, then run `npm run test:image` and
# `sh scripts/lint-dockerfile.sh`, and record the date in docs/supply-chain.md.
set -eu
cd "$(dirname "$0")/.."

dockerfile=Dockerfile
check_only=false
[ "${1:-}" = "--check" ] && check_only=true

# The repository and tag come from the Dockerfile's NODE_BASE argument
# (public.ecr.aws/<repo>:<tag>, with @sha256:… once pinned).
current=$(sed -n 's/^ARG NODE_BASE=//p' "$dockerfile")
base=${current%%@*}
pinned=
case "$current" in *@*) pinned=${current#*@} ;; esac
case "$base" in
  public.ecr.aws/*:*) ;;
  *) echo "pin-base-image: expected 'ARG NODE_BASE=public.ecr.aws/<repository>:<tag>' in $dockerfile, found '$base'" >&2; exit 2 ;;
esac
reference=${base#public.ecr.aws/}
repository=${reference%:*}
tag=${reference##*:}

# Anonymous pull token for ECR Public: {"token":"…"}.
token=$(curl -fsS --max-time 30 "https://public.ecr.aws/token/?scope=repository:${repository}:pull" |
  sed -n 's/.*"token"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p')
if [ -z "$token" ]; then
  echo "pin-base-image: no anonymous token from public.ecr.aws" >&2
  exit 1
fi

# HEAD the manifest, accepting an index (OCI or Docker manifest list) first; the registry answers
# with the digest of what it serves in Docker-Content-Digest.
digest=$(curl -fsSI --max-time 30 \
  -H "Authorization: Bearer ${token}" \
  -H 'Accept: application/vnd.oci.image.index.v1+json' \
  -H 'Accept: application/vnd.docker.distribution.manifest.list.v2+json' \
  -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
  -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
  "https://public.ecr.aws/v2/${repository}/manifests/${tag}" |
  tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest:[[:space:]]*\(sha256:[0-9a-f]\{64\}\)$/\1/p')
if [ -z "$digest" ]; then
  echo "pin-base-image: public.ecr.aws sent no Docker-Content-Digest for ${repository}:${tag}" >&2
  exit 1
fi

echo "public.ecr.aws/${repository}:${tag} is ${digest} ($(date -u +%Y-%m-%d)); the Dockerfile pins ${pinned:-nothing}"
if [ "$check_only" = true ]; then
  [ "$pinned" = "$digest" ]
  exit $?
fi
if [ "$pinned" = "$digest" ]; then
  echo "already pinned"
  exit 0
fi
tmp=$(mktemp)
sed "s|^ARG NODE_BASE=.*|ARG NODE_BASE=${base}@${digest}|" "$dockerfile" >"$tmp"
cat "$tmp" >"$dockerfile"
rm -f "$tmp"
echo "rewrote NODE_BASE in $dockerfile"
