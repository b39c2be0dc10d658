//! `crate = "..."`: meshkit reached through another crate's re-export.

mod my_reexport {
    pub use meshkit;
}

use my_reexport::meshkit::{Context, DataProduct, TransformError};

#[derive(apache_avro::AvroSchema, serde::Serialize, serde::Deserialize)]
pub struct Word {
    pub text: String,
}

pub struct Shout;

#[my_reexport::meshkit::product(
    crate = "my_reexport::meshkit",
    domain = "demo",
    name = "shout",
    version = "1.0.0",
    owner = "team-demo",
    input(words, topic = "demo.words", value = Word),
    output(loud, topic = "demo.words.loud", value = Word),
)]
impl Shout {
    #[transform(words)]
    fn on_word(word: &Word, ctx: &mut Context) -> Result<(), TransformError> {
        ctx.emit_value("loud", None, &Word { text: word.text.to_uppercase() })?;
        Ok(())
    }
}

fn main() {
    assert_eq!(Shout.descriptor().expect("valid").identity.name, "shout");
}
