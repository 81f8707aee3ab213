//! Prints the Queue CRD as YAML: `cargo run -p streamforge-operator --bin crdgen > crds/queue.yaml`.

fn main() -> anyhow::Result<()> {
    print!("{}", streamforge_operator::crd_yaml()?);
    Ok(())
}
