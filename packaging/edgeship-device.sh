#!/bin/sh
# /usr/bin/edgeship-device: the device CLI on Debian's node. The app lies beside this script at
# ../lib/edgeship-device (so an extracted package runs in place too, for the tests and benches).
here=$(dirname "$0")
# EDGESHIP_NODE_FLAGS: node flags a unit sets that NODE_OPTIONS does not accept (the edge worker's
# --jitless --no-expose-wasm, the runtime's --optimize-for-size --no-concurrent-recompilation); split on spaces, so each flag is one word without spaces.
# shellcheck disable=SC2086
exec /usr/bin/node $EDGESHIP_NODE_FLAGS "$here/../lib/edgeship-device/device/cli.js" "$@"
