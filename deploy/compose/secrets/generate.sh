#!/bin/sh
# Creates the files the compose variants mount from this folder, keeping any
# that exist:
#
#   cookie_secrets      a fresh cookie key (32 random bytes, base64)
#   oidc_client_secret  a placeholder: paste your provider's client secret
#   tls.crt, tls.key    a self-signed certificate for APP_HOST, for a first
#                       try only: replace both with your own certificate
#                       chain and key (nginx and Traefik variants)
#
# The gatehouse image runs as uid/gid 65532 (distroless "nonroot"). Compose
# bind-mounts each secret file at /run/secrets/<name> as it is on this
# machine: same owner, group and mode (the uid, gid and mode keys of a
# service's secrets are not applied to file secrets outside Swarm). So the
# files must be readable by 65532 on the host:
#
#   run as root:  owner 65532:65532, mode 0400 (the folder is left as it
#                 is, so git can still update this script)
#   otherwise:    mode 0444 (you cannot give a file to another user), and
#                 this folder 0700, so that on the host only you reach them.
#                 A folder's mode does not matter inside the container: the
#                 file itself is mounted. For owner-only files run this
#                 again with sudo.
#
# With rootless Docker or userns-remap, uid 65532 in the container is
# another uid on the host: run this as your own user (mode 0444).
#
# Run it again after editing a file (an editor may write it back 0600).
# It ends by checking that uid/gid 65532 can read every file.
#
# Usage: secrets/generate.sh [DIR]    DIR defaults to this script's folder.
set -eu

image_uid=65532
image_gid=65532

here=$(cd "$(dirname "$0")" && pwd)
arg=${1:-}
dir=${arg:-$here}
mkdir -p "$dir"
cd "$dir"
umask 077

# APP_HOST names the self-signed certificate: from the environment, else
# from ../.env next to the compose files.
host=${APP_HOST:-}
if [ -z "$host" ] && [ -f "$here/../.env" ]; then
	host=$(sed -n 's/^APP_HOST=//p' "$here/../.env" | tail -n 1)
fi
host=${host:-app.example.com}

if [ ! -f cookie_secrets ]; then
	head -c 32 /dev/urandom | base64 > cookie_secrets
	echo "wrote $dir/cookie_secrets"
fi
if [ ! -f oidc_client_secret ]; then
	printf 'paste the client secret here\n' > oidc_client_secret
	echo "edit $dir/oidc_client_secret: put your provider's client secret there"
fi
if [ ! -f tls.crt ] || [ ! -f tls.key ]; then
	if ! command -v openssl >/dev/null 2>&1; then
		echo "no openssl here: put your certificate chain in $dir/tls.crt and its key in $dir/tls.key" >&2
		exit 1
	fi
	openssl req -x509 -newkey rsa:2048 -nodes -days 90 -subj "/CN=$host" \
		-addext "subjectAltName=DNS:$host" -keyout tls.key -out tls.crt 2>/dev/null
	echo "wrote a self-signed certificate for $host to $dir/tls.crt and tls.key: replace both with your own"
fi

files="cookie_secrets oidc_client_secret tls.crt tls.key"
# $files is split into its names on purpose below.
# shellcheck disable=SC2086
# A failure here (a file of another user's, say) is reported by the check.
if [ "$(id -u)" = 0 ]; then
	chown "$image_uid:$image_gid" $files || true
	chmod 0400 $files || true
else
	chmod 0444 $files || true
	chmod 0700 . || true
fi

# stat_ugm FILE prints "uid gid mode" (GNU stat, else BSD stat).
stat_ugm() {
	stat -c '%u %g %a' "$1" 2>/dev/null || stat -f '%u %g %Lp' "$1"
}

# The kernel's check for a user with no supplementary groups: the owner's
# bits if it owns the file, else the group's if the group matches, else the
# others'.
bad=0
for f in $files; do
	read -r fuid fgid fmode <<-EOF
	$(stat_ugm "$f")
	EOF
	mode=$(printf '%d' "0$fmode")
	if [ "$fuid" = "$image_uid" ]; then
		bit=256 # 0400
	elif [ "$fgid" = "$image_gid" ]; then
		bit=32 # 0040
	else
		bit=4 # 0004
	fi
	if [ $((mode & bit)) -eq 0 ]; then
		echo "$dir/$f (owner $fuid, group $fgid, mode $fmode) is not readable by uid $image_uid gid $image_gid, the image's user:" >&2
		echo "  run this script as root (sudo $0${arg:+ $arg}), or: chmod 0444 $dir/$f" >&2
		bad=1
	fi
done
if [ "$bad" -ne 0 ]; then
	exit 1
fi
echo "ok: every file in $dir is readable by uid $image_uid gid $image_gid"
