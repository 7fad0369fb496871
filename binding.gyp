{
  # Two addons over one static library of native/core (pure C++, compiled once):
  #   dysco_native     what the agent loads: EAL, ports and the lcore loop (native/dpdk), the Datapath class, and the
#                    conntrack export and import (native/conntrack, a static library of its own on libmnl).
  #   dysco_core_test  test/ and bench/ only: native/core on Buffers. Its sources are native/addon/*_bindings.cc and
  #                    test_addon.cc; it links no DPDK, so the linker also proves that native/core needs none.
  # A new native/addon/*.cc file joins the agent's addon unless it is named *_bindings.cc.
  "target_defaults": {
    "include_dirs": [
      "<!(node -p \"require('node-addon-api').include_dir\")",
      "native"
    ],
    "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
    "cflags!": ["-fno-exceptions"],
    "cflags_cc!": ["-std=gnu++17"],
    "cflags": ["-O3", "-Wall", "-Wextra", "-Wno-unused-parameter"],
    "cflags_cc": ["-std=gnu++20", "-O3", "-fno-exceptions"]
  },
  "targets": [
    {
      "target_name": "dysco_core",
      "type": "static_library",
      "sources": ["<!@(find native/core -name '*.cc' | sort)"],
      "cflags": ["-fPIC"]
    },
    {
      "target_name": "dysco_conntrack",
      "type": "static_library",
      "sources": ["<!@(find native/conntrack -name '*.cc' | sort)"],
      "cflags": ["-fPIC"]
    },
    {
      "target_name": "dysco_native",
      "dependencies": ["dysco_core", "dysco_conntrack"],
      "sources": [
        "<!@(find native/dpdk -name '*.cc' | sort)",
        "<!@(find native/addon -name '*.cc' ! -name '*_bindings.cc' ! -name 'test_addon.cc' | sort)"
      ],
      "defines": ["ALLOW_EXPERIMENTAL_API"],
      "cflags_cc": ["-Wno-volatile", "<!@(pkg-config --cflags libdpdk)"],
      "libraries": ["<!@(pkg-config --libs libdpdk)", "<!@(pkg-config --libs libnetfilter_conntrack libmnl)"]
    },
    {
      "target_name": "dysco_core_test",
      "dependencies": ["dysco_core"],
      "sources": [
        "<!@(find native/addon -name '*_bindings.cc' | sort)",
        "native/addon/test_addon.cc",
        "native/addon/pipeline_options.cc",
        "native/addon/session_js.cc",
        "native/addon/policy_js.cc",
        "native/addon/list_auth_js.cc",
        "native/addon/event_js.cc",
        "native/addon/new_path_js.cc"
      ]
    }
  ]
}
