#!/usr/bin/env bash
# Fetches uPlot (the fleet console's time-series plots) from the npm package uplot@1.6.32 (MIT) with pinned SHA-256
# hashes (build/npm-pinned.sh), as build/speech-models.sh does for the speech models. Run by the build
# (Directory.Build.targets, projects with UsesConsoleAssets=true, before resources are embedded); the aggregator
# embeds the files, so the console needs no CDN and works offline; nothing is downloaded at run time.
# Why fetched, not committed: a vendored copy of a minified third-party build would be reviewed by nobody; the pinned
# hashes make the fetch exactly as reproducible as a committed copy.
set -euo pipefail
dest=${1:?usage: build/console-assets.sh DEST_DIR}
exec bash "$(dirname "$0")/npm-pinned.sh" uplot 1.6.32 "$dest" \
  dist/uPlot.esm.js=uPlot.esm.js=5dd9b3281aa64b461b42d9945f6adb2649d346502b12281a9ae0d46599a80eba \
  dist/uPlot.min.css=uPlot.min.css=df630c6a8d6f8eeaff264b50f73ce5b114f646ffd9a0bb74f049b0a00135fa04 \
  LICENSE=LICENSE=8f989229699b4fe2f1a0432d0e9edc338a8a911e250e2d1b01ecd770a5f5b1bd
