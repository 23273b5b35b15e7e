#!/bin/sh
# Creates the secret files docker-compose.yml mounts. Put your provider's
# client secret in oidc_client_secret; cookie_secrets gets a fresh key.
set -eu
cd "$(dirname "$0")"
umask 077
[ -f cookie_secrets ] || openssl rand -base64 32 > cookie_secrets
[ -f oidc_client_secret ] || { printf 'paste the client secret here\n' > oidc_client_secret; echo "edit $(pwd)/oidc_client_secret"; }
