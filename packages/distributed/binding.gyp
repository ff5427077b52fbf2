{
  "targets": [
    {
      "target_name": "longtail_mpi",
      "sources": ["src/native/mpi_addon.cc"],
      "include_dirs": ["<!@(node scripts/mpi-flags.cjs include_dirs)"],
      "libraries": ["<!@(node scripts/mpi-flags.cjs libraries)"],
      "cflags!": ["-O2", "-O0", "-fno-exceptions"],
      "cflags_cc!": ["-O2", "-O0", "-fno-exceptions", "-std=gnu++17"],
      "cflags": ["-O3", "-pthread", "-fvisibility=hidden", "<!@(node scripts/mpi-flags.cjs cflags)"],
      "cflags_cc": ["-O3", "-std=c++17", "-pthread", "-fvisibility=hidden"],
      "ldflags": ["-pthread"],
      "defines": ["NAPI_VERSION=8", "OMPI_SKIP_MPICXX=1", "MPICH_SKIP_MPICXX=1"]
    }
  ]
}
