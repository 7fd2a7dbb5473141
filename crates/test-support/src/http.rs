//! HTTPS to the emulator as a browser would speak it: a client that trusts its CA, and the
//! consent page answered for the account.

use dropbox_emulator::TestServer;

/// A client builder that trusts the emulator's CA.
pub fn trusting(server: &TestServer) -> reqwest::ClientBuilder {
    let pem = std::fs::read(server.ca_file.as_ref().unwrap()).unwrap();
    reqwest::Client::builder().add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
}

/// The account ([`crate::ACCOUNT`]) answers the consent page of `authorize_url` with
/// `decision` (`allow` or `deny`) over `http`; returns the emulator's answer.
pub async fn consent(
    http: &reqwest::Client,
    server: &TestServer,
    authorize_url: &str,
    decision: &str,
) -> reqwest::Response {
    let mut form: Vec<(String, String)> = url::Url::parse(authorize_url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    form.push(("account".into(), crate::ACCOUNT.into()));
    form.push(("decision".into(), decision.into()));
    http.post(format!("{}/oauth2/authorize", server.url))
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// The code a consent page without a redirect address shows (to be pasted into the app).
pub fn code_on_page(html: &str) -> String {
    const MARK: &str = "<code id=\"code\">";
    let start = html.find(MARK).expect("a code to paste") + MARK.len();
    html[start..].split('<').next().unwrap().to_string()
}
