#!/bin/sh
# /usr/bin/edgeship-device: the device CLI on Debian's node. The app lies beside this script at
# ../lib/edgeship-device (so an extracted package runs in place too, for the tests and benches).
here=$(dirname "$0")
exec /usr/bin/node "$here/../lib/edgeship-device/device/cli.js" "$@"
