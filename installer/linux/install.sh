#!/usr/bin/env bash
# Install and configure the v4l2loopback virtual camera ("Lipstick Cam") and, optionally, start at login.
#   sudo installer/linux/install.sh            # driver now and at every boot
#   installer/linux/install.sh --autostart     # (as your user) start vcam-lipstick at login
set -euo pipefail
LABEL="Lipstick Cam"
NR=10
if [[ "${1:-}" == "--autostart" ]]; then
    dir="${XDG_CONFIG_HOME:-$HOME/.config}/autostart"
    mkdir -p "$dir"
    exe="$(command -v vcam-lipstick || echo "python3 -m vcam_lipstick")"
    printf '[Desktop Entry]\nType=Application\nName=Lipstick Cam\nExec=%s\nTerminal=false\nX-GNOME-Autostart-enabled=true\n' \
        "$exe" > "$dir/vcam-lipstick.desktop"
    echo "autostart entry: $dir/vcam-lipstick.desktop"
    exit 0
fi
if [[ $EUID -ne 0 ]]; then echo "run as root (sudo) to install the driver" >&2; exit 1; fi
if command -v apt-get >/dev/null; then
    apt-get install -y v4l2loopback-dkms v4l2loopback-utils
elif command -v dnf >/dev/null; then
    dnf install -y akmod-v4l2loopback v4l2loopback
elif command -v pacman >/dev/null; then
    pacman -S --noconfirm v4l2loopback-dkms
else
    echo "install the v4l2loopback kernel module with your package manager, then re-run" >&2; exit 1
fi
opts="devices=1 video_nr=$NR card_label=\"$LABEL\" exclusive_caps=1"
modprobe -r v4l2loopback 2>/dev/null || true
eval modprobe v4l2loopback $opts
echo v4l2loopback > /etc/modules-load.d/v4l2loopback.conf
echo "options v4l2loopback $opts" > /etc/modprobe.d/v4l2loopback.conf
echo "virtual camera ready: /dev/video$NR ($LABEL); loaded at every boot"
