use meshkit::ops::Topology;

pub struct Relay;

#[meshkit::product(
    domain = "web",
    name = "relay",
    version = "1.0.0",
    owner = "team-web@example.com",
    input(events, topic = "web.events"),
    output(copies, topic = "web.copies", key = String, value = i64, format = json),
)]
impl Relay {
    #[topology]
    fn flow(t: &mut Topology) {
        let _ = t;
    }
}

fn main() {}
