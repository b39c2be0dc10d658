use meshkit::ops::Topology;
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Click {
    pub page: String,
}

pub struct Clicks;

#[meshkit::product(
    domain = "web",
    name = "clicks",
    version = "1.0.0",
    owner = "team-web@example.com",
    input(clicks, topic = "web.clicks", key = String, value = Click, format = json),
    output(per_page, topic = "web.clicks-per-page", key = String, value = i64, format = json),
)]
impl Clicks {
    #[topology]
    async fn flow(t: &mut Topology) {
        t.stream(Self::IN.clicks).group_by(|_, c| c.page.clone()).count("per-page").to(Self::OUT.per_page);
    }
}

fn main() {}
