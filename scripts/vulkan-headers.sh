#!/usr/bin/env bash
# Prints an include folder with Vulkan-Hpp headers new enough for llama.cpp's Vulkan backend, or
# nothing when the system's headers already are. llama.cpp's ggml-vulkan.cpp uses vk::LayerSettingEXT
# (VK_EXT_layer_settings), which Vulkan-Headers 1.3.239 (Debian 12's libvulkan-dev) predates; 1.4.309
# (Debian 13's) has it. On a Debian-family system without it, Debian 13's libvulkan-dev package (the
# headers only: the system's Vulkan loader stays) is fetched with apt-get from the Debian archive
# into OUT and unpacked there, never installed. Usage: vulkan-headers.sh OUT
set -euo pipefail
out=$1
probe() {  # compiles a use of vk::LayerSettingEXT against the headers in $1 (or the system's)
	printf '#include <vulkan/vulkan.hpp>\nvk::LayerSettingEXT s;\nint main() { return 0; }\n' |
		"${CXX:-c++}" -std=c++17 -fsyntax-only ${1:+-I"$1"} -x c++ - 2>/dev/null
}
if probe ""; then exit 0; fi
if [ -f "$out/usr/include/vulkan/vulkan.hpp" ] && probe "$out/usr/include"; then echo "$out/usr/include"; exit 0; fi
if [ ! -f /usr/include/vulkan/vulkan.h ]; then
	echo "vulkan: no Vulkan headers; install them (Debian/Ubuntu: libvulkan-dev glslc spirv-headers mesa-vulkan-drivers vulkan-tools; Fedora: vulkan-headers vulkan-loader-devel glslc; Homebrew: vulkan-headers vulkan-loader shaderc molten-vk)" >&2
	exit 1
fi
if ! command -v apt-get >/dev/null || ! command -v dpkg-deb >/dev/null; then
	echo "vulkan: the system's Vulkan headers predate VK_EXT_layer_settings (vk::LayerSettingEXT), which llama.cpp's Vulkan backend needs; install Vulkan-Headers 1.4 (e.g. 1.4.309) and retry" >&2
	exit 1
fi
apt_dir="$out/apt"
rm -rf "$apt_dir" && mkdir -p "$apt_dir/parts" "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
uri=$(sed -n 's/^URIs: *\([^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
printf 'Types: deb\nURIs: %s\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
	"${uri:-http://deb.debian.org/debian}" > "$apt_dir/parts/trixie.sources"
opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$apt_dir/parts" -o "Dir::State::Lists=$apt_dir/lists"
	-o "Dir::Cache=$apt_dir/cache" -o Dir::State::status=/dev/null -o APT::Sandbox::User=root)
apt-get -qq "${opts[@]}" update >&2
(cd "$apt_dir" && apt-get -qq "${opts[@]}" download libvulkan-dev >&2)
dpkg-deb -x "$apt_dir"/libvulkan-dev_*.deb "$out"
rm -rf "$apt_dir/lists" "$apt_dir/cache"
if ! probe "$out/usr/include"; then
	echo "vulkan: the fetched Vulkan headers ($out/usr/include) still lack vk::LayerSettingEXT" >&2
	exit 1
fi
echo "$out/usr/include"
