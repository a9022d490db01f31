//! Generates the KurrentDB stand-in's gRPC server code (tests/src/kurrentdb_standin.rs) from the
//! vendored `.proto` files in tests/proto/kurrentdb/ (tests/proto/kurrentdb/README.md says where they
//! come from). `protox` compiles them in pure Rust, so no system `protoc` is needed; `tonic-build`
//! then writes server stubs only, for the tonic version kurrentdb itself uses.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = "proto/kurrentdb";
    println!("cargo:rerun-if-changed={dir}");
    let files = protox::compile(
        [
            format!("{dir}/streams.proto"),
            format!("{dir}/serverfeatures.proto"),
        ],
        [dir],
    )?;
    tonic_build::configure()
        .build_client(false)
        .build_server(true)
        .extern_path(".event_store.client.Empty", "()")
        .compile_fds(files)?;
    Ok(())
}
