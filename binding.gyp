{
  "targets": [
    {
      "target_name": "ycs_native",
      "sources": [
        "native/addon.cc",
        "native/aligned_buffer.cc",
        "native/device.cc",
        "native/file_backend.cc",
        "native/io_errors.cc",
        "native/io_js.cc",
        "native/io_ring.cc",
        "native/io_uring_lane.cc",
        "native/io_worker.cc",
        "native/scsi_passthrough.cc",
        "native/pr_read.cc",
        "native/iscsi_backend.cc",
        "native/peercred.cc",
        "native/sd_notify.cc",
        "native/process_spawn.cc",
        "native/loop_probe.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "_GNU_SOURCE"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++20"],
      "cflags": ["-Wall", "-Wextra", "-Werror"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra", "-Werror", "-fvisibility=hidden"],
      "libraries": ["-liscsi", "-luring", "-lpthread"]
    }
  ]
}
