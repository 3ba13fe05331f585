#!/usr/bin/env bash
# The dashboard's cost (issue #13): bench/overhead.sh measures it, as its `page` arm against its
# `on` arm (the same server, with and without SUBSCRIBERS event streams of /dashboard/events read
# by curl, which is what an open page costs the server), in interleaved rounds: server CPU per
# request at a fixed offered rate (the sound figure on a loaded machine), p50 at c=1, and
# throughput at saturation with wrk (the bar: open / closed >= 0.99). The JVM `fulcrum bench`
# this script used before ate the cores it measured; its rounds wandered by ±40 %.
#   ROUNDS=9 SUBSCRIBERS=1 bash bench/dashboard.sh
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/overhead.sh" "$@"
