#[meshkit::topology]
pub struct NotAMethod;

fn main() {}
