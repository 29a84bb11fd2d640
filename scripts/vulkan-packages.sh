#!/usr/bin/env bash
# The system packages llama.cpp's Vulkan build and a software Vulkan device need (Debian/Ubuntu
# names): installed with apt-get when running as root and one is missing; otherwise the command to
# run is printed and the script fails. Other systems: Fedora vulkan-headers vulkan-loader-devel
# glslc spirv-headers-devel mesa-vulkan-drivers vulkan-tools; Homebrew vulkan-headers vulkan-loader
# shaderc spirv-headers molten-vk vulkan-tools.
set -euo pipefail
packages=(libvulkan-dev glslc spirv-headers mesa-vulkan-drivers vulkan-tools)
if ! command -v dpkg >/dev/null; then
	command -v glslc >/dev/null && exit 0
	echo "vulkan: glslc not found; install the Vulkan headers, loader, glslc, SPIR-V headers and a Vulkan driver" >&2
	exit 1
fi
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "vulkan: missing system packages: ${missing[*]}; run: sudo apt-get install ${missing[*]}" >&2
	exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
