//! The files of `back/data/`, embedded in the binary so that it runs with no configuration:
//! `stories.txt` (the default stories) and `student_age.sample.json` (the first student store).

use include_dir::{include_dir, Dir};

static DATA: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/data");

/// The content of `back/data/<name>`, if that file was embedded.
pub fn file(name: &str) -> Option<&'static [u8]> {
    DATA.get_file(name).map(|file| file.contents())
}
