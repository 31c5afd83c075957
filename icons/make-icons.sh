#!/usr/bin/env bash
# Draws ssobar's icons with ImageMagick: a clock face, in the colour of each tray state.
# Run from this folder; the PNGs are committed, so building needs no ImageMagick.
set -euo pipefail
clock() { # size colour out [extra draw]
  local s=$1 c=$2 out=$3 r=$(( $1 * 44 / 100 )) m=$(( $1 / 2 )) w=$(( $1 / 10 ))
  convert -size "${s}x${s}" xc:none -fill "$c" -draw "circle $m,$m $m,$((m - r))" \
    -stroke white -strokewidth "$w" -fill none \
    -draw "line $m,$m $m,$((m - r * 62 / 100))" -draw "line $m,$m $((m + r * 45 / 100)),$((m + r * 25 / 100))" \
    ${4:+-draw "$4"} "PNG32:$out"
}
clock 64 '#8a9099' tray/neutral.png
clock 64 '#2e9d5b' tray/ok.png
clock 64 '#d99a00' tray/expiring.png
clock 64 '#d64545' tray/expired.png
convert -size 64x64 xc:none -fill '#3b7be0' -draw 'circle 32,32 32,4' -fill white \
  -draw 'circle 18,32 18,27' -draw 'circle 32,32 32,27' -draw 'circle 46,32 46,27' PNG32:tray/busy.png
app() { # size out
  local s=$1 m=$(( $1 / 2 )) r=$(( $1 * 30 / 100 )) w=$(( $1 / 16 ))
  convert -size "${s}x${s}" xc:none -fill '#1f3a5f' -draw "roundrectangle 0,0 $((s - 1)),$((s - 1)) $((s / 5)),$((s / 5))" \
    -fill none -stroke white -strokewidth "$w" -draw "circle $m,$m $m,$((m - r))" \
    -draw "line $m,$m $m,$((m - r * 70 / 100))" -draw "line $m,$m $((m + r * 50 / 100)),$((m + r * 30 / 100))" "PNG32:$2"
}
app 32 32x32.png
app 128 128x128.png
app 256 128x128@2x.png
app 512 icon.png
