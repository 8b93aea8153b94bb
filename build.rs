//! Generates the gRPC code of `proto/cluster.proto` (tonic + prost) with a vendored protoc, so
//! no system protoc is needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/cluster.proto");
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // SAFETY: build scripts are single-threaded; protoc is found through this variable.
    unsafe { std::env::set_var("PROTOC", protoc) };
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // Payloads as `bytes::Bytes`: a forwarded message is encoded once for every peer.
        .bytes(".")
        .compile_protos(&["proto/cluster.proto"], &["proto"])?;
    Ok(())
}
