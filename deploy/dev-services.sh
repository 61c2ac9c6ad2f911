#!/usr/bin/env bash
# Make sure what VoxQueue's demo and tests need is installed and running on this Debian
# machine: espeak-ng (the command the Fish Speech stand-in runs; the worker's voice is a wheel),
# sox/flac, ffmpeg (books: M4B and chapter files), Redis, PostgreSQL, and Chromium with a CJK font
# (the console's browser tests: Playwright drives Debian's Chromium, no browser download).
# Safe to run again: it installs and starts only what is missing. Needs root (or sudo).
set -euo pipefail

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
need=()
command -v espeak-ng >/dev/null || need+=(espeak-ng)
command -v sox >/dev/null || need+=(sox)
command -v flac >/dev/null || need+=(flac)
command -v ffmpeg >/dev/null || need+=(ffmpeg)
command -v redis-server >/dev/null || need+=(redis-server)
command -v pg_ctlcluster >/dev/null || need+=(postgresql)
command -v chromium >/dev/null || need+=(chromium)
fc-list :lang=zh 2>/dev/null | grep -q . || need+=(fonts-wqy-microhei)
if [ "${#need[@]}" -gt 0 ]; then
  echo "==> installing ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "==> starting Redis on 127.0.0.1:6379"
  $SUDO mkdir -p /var/lib/redis /var/log/redis
  $SUDO redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/voxq.log
  for _ in $(seq 50); do redis-cli ping >/dev/null 2>&1 && break; sleep 0.1; done
fi
echo "==> Redis: $(redis-cli -h 127.0.0.1 -p 6379 ping)"

if [ "${VOXQ_NEED_POSTGRES:-1}" = "1" ]; then
  if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    echo "==> starting PostgreSQL $version on 127.0.0.1:5432"
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start
    for _ in $(seq 100); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 0.1; done
  fi
  # The tests connect as postgres/postgres over TCP; on a fresh cluster that user has no password.
  if ! PGPASSWORD=postgres psql -h 127.0.0.1 -U postgres -d postgres -tAc "select 1" >/dev/null 2>&1; then
    echo "==> setting the local postgres user's password for the tests"
    $SUDO -u postgres psql -q -c "ALTER USER postgres PASSWORD 'postgres'" 2>/dev/null \
      || su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'postgres'\""
  fi
  echo "==> PostgreSQL: $(pg_isready -h 127.0.0.1 -p 5432)"
fi
