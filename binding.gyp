{
  "targets": [
    {
      "target_name": "dysco_native",
      "sources": [
        "<!@(find native -name '*.cc' | sort)"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "ALLOW_EXPERIMENTAL_API"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-std=gnu++17"],
      "cflags": ["-O3", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_cc": [
        "-std=gnu++20", "-O3", "-fno-exceptions", "-Wno-volatile",
        "<!@(pkg-config --cflags libdpdk)"
      ],
      "libraries": ["<!@(pkg-config --libs libdpdk)"]
    }
  ]
}
