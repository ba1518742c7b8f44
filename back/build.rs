// include_dir! reads back/data/stories/ when the crate compiles, but cargo only knows about the
// files it read, not the directory: rebuild when a stories file is added or removed too.
fn main() {
    println!("cargo:rerun-if-changed=data/stories");
}
