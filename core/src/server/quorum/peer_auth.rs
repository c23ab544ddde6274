//! Quorum SASL between members (`quorum.auth.*`), sans-IO: DIGEST-MD5 with Apache's
//! protocol and server name (`zookeeper-quorum/zk-quorum-sasl-md5`), the member that dials
//! authenticating as a learner to the member that accepts, which is the server.
//!
//! On the wire the dialing member sends [`PeerRequest::Sasl`](super::wire::PeerRequest)
//! tokens first on a new connection (after TLS, if any) and the accepting member answers
//! each with a [`SaslAnswer`]:
//!
//! ```text
//! learner → Sasl(empty)             server → Challenge(digest-challenge)
//! learner → Sasl(digest-response)   server → Success(rspauth)   (or Failed)
//! ```
//!
//! The learner checks `rspauth`, so a member also learns that the one it dialed knows the
//! password. Apache's rolling-upgrade rules decide what a missing or failed exchange means:
//!
//! - accepting side ([`ServerAuth`]): without `quorum.auth.enableSasl` it answers
//!   `NotEnabled` and serves on; with it, a member that does not authenticate, or fails to,
//!   is still served (and logged) unless `quorum.auth.serverRequireSasl`, which closes the
//!   connection.
//! - dialing side ([`LearnerAuth`]): it authenticates whenever SASL is enabled here (Apache's
//!   learner does so only with `learnerRequireSasl`; trying earlier shows a wrong secret in
//!   the logs before anything depends on it), and with
//!   `quorum.auth.learnerRequireSasl` it talks only to members that authenticated it.

use super::wire::SaslAnswer;
use crate::sasl::digest::{DigestClient, DigestServer};
use crate::server::sasl::quorum::{LearnerCredentials, QUORUM_PROTOCOL, QUORUM_REALM};
use crate::server::sasl::{SaslOptions, MAX_TOKEN_BYTES};

/// What the accepting side does with a connection after a token or a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Serve it.
    Serve,
    /// Serve it: the member authenticated (`who`, worth an info line).
    Authenticated(String),
    /// Serve it, unauthenticated: worth one log line (`why`).
    ServeUnauthenticated(String),
    /// Close it (after sending the answer, if there is one); `why` goes to the log.
    Close(String),
}

#[derive(Debug)]
enum ServerState {
    /// Nothing received yet.
    Start,
    Challenged(DigestServer),
    Authenticated,
    /// Served without authentication (none tried, or it failed and that is allowed).
    Unauthenticated,
}

/// One accepted connection's quorum SASL state.
#[derive(Debug)]
pub struct ServerAuth {
    /// `None`: quorum SASL disabled on this member.
    required: Option<bool>,
    state: ServerState,
}

impl ServerAuth {
    /// `required`: `None` without `quorum.auth.enableSasl`, else `serverRequireSasl`.
    pub fn new(required: Option<bool>) -> ServerAuth {
        ServerAuth {
            required,
            state: ServerState::Start,
        }
    }

    /// The answer to a token from the member, against `users` (the `QuorumServer` section).
    pub fn on_token(&mut self, users: Option<&SaslOptions>, token: &[u8]) -> (SaslAnswer, Verdict) {
        let (Some(required), Some(users)) = (self.required, users) else {
            return (SaslAnswer::NotEnabled, Verdict::Serve);
        };
        let fail = |state: &mut ServerState, why: String| {
            if required {
                (SaslAnswer::Failed { kept: false }, Verdict::Close(why))
            } else {
                *state = ServerState::Unauthenticated;
                (
                    SaslAnswer::Failed { kept: true },
                    Verdict::ServeUnauthenticated(format!(
                        "{why}; serving the member all the same (quorum.auth.serverRequireSasl=false)"
                    )),
                )
            }
        };
        if token.len() > MAX_TOKEN_BYTES {
            return (
                SaslAnswer::Failed { kept: false },
                Verdict::Close(format!(
                    "a quorum SASL token of {} bytes, more than {MAX_TOKEN_BYTES}",
                    token.len()
                )),
            );
        }
        match std::mem::replace(&mut self.state, ServerState::Unauthenticated) {
            ServerState::Start => {
                // DIGEST-MD5 has no initial response; one is ignored, as Apache's server does.
                let server = DigestServer::new(
                    QUORUM_REALM,
                    &format!("{QUORUM_PROTOCOL}/{QUORUM_REALM}"),
                    &DigestServer::random_nonce(),
                );
                let challenge = server.challenge();
                self.state = ServerState::Challenged(server);
                (SaslAnswer::Challenge(challenge), Verdict::Serve)
            }
            ServerState::Challenged(server) => {
                match server.verify(token, |user| users.users.get(user).map(String::as_str)) {
                    Ok(verified) => {
                        self.state = ServerState::Authenticated;
                        (
                            SaslAnswer::Success(verified.rspauth),
                            Verdict::Authenticated(verified.user),
                        )
                    }
                    Err(e) => fail(
                        &mut self.state,
                        format!(
                            "quorum SASL authentication failed: {e} (the user_ entries of section '{}' in {})",
                            users.section,
                            users.source.display()
                        ),
                    ),
                }
            }
            ServerState::Authenticated | ServerState::Unauthenticated => (
                SaslAnswer::Failed { kept: false },
                Verdict::Close("a quorum SASL token after the exchange ended".into()),
            ),
        }
    }

    /// Whether a request other than a token may be served now.
    pub fn on_request(&mut self) -> Verdict {
        match (&self.state, self.required) {
            (_, None) | (ServerState::Authenticated | ServerState::Unauthenticated, _) => {
                Verdict::Serve
            }
            (ServerState::Challenged(_), _) => {
                Verdict::Close("a request in the middle of the quorum SASL exchange".into())
            }
            (ServerState::Start, Some(true)) => Verdict::Close(
                "the member did not authenticate and quorum.auth.serverRequireSasl=true".into(),
            ),
            (ServerState::Start, Some(false)) => {
                self.state = ServerState::Unauthenticated;
                Verdict::ServeUnauthenticated(
                    "the member did not authenticate (it has quorum.auth.enableSasl=false); \
                     serving it all the same (quorum.auth.serverRequireSasl=false)"
                        .into(),
                )
            }
        }
    }
}

/// What the dialing member does after an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LearnerStep {
    /// Send this token.
    Send(Vec<u8>),
    /// Authenticated both ways: go on with requests.
    Authenticated,
    /// Go on with requests, unauthenticated; `why` is worth a log line.
    Unauthenticated(String),
    /// Close the connection; `why` goes to the log.
    Refuse(String),
}

/// The dialing member's side of one connection's exchange.
#[derive(Debug)]
pub struct LearnerAuth {
    client: DigestClient,
    /// `quorum.auth.learnerRequireSasl`.
    require: bool,
    /// Where the credentials came from (for messages).
    origin: String,
}

impl LearnerAuth {
    pub fn new(credentials: &LearnerCredentials, require: bool) -> LearnerAuth {
        LearnerAuth {
            client: DigestClient::new(
                &credentials.username,
                &credentials.password,
                QUORUM_PROTOCOL,
                QUORUM_REALM,
            ),
            require,
            origin: format!(
                "user {:?} of section '{}' in {}",
                credentials.username,
                credentials.section,
                credentials.source.display()
            ),
        }
    }

    /// The first token.
    pub fn start(&self) -> Vec<u8> {
        self.client.initial_response()
    }

    /// The step after the server's `answer`.
    pub fn on_answer(&mut self, answer: SaslAnswer) -> LearnerStep {
        let unauthenticated = |why: String, kept: bool| {
            if self.require || !kept {
                LearnerStep::Refuse(why)
            } else {
                LearnerStep::Unauthenticated(why)
            }
        };
        match answer {
            SaslAnswer::NotEnabled => unauthenticated(
                format!(
                    "the member does not do quorum SASL (quorum.auth.enableSasl=false there){}",
                    if self.require {
                        " and this member has quorum.auth.learnerRequireSasl=true"
                    } else {
                        "; talking to it unauthenticated"
                    }
                ),
                true,
            ),
            SaslAnswer::Challenge(challenge) => match self.client.respond(&challenge) {
                Ok(response) => LearnerStep::Send(response),
                Err(e) => LearnerStep::Refuse(format!("the member's quorum SASL challenge: {e}")),
            },
            SaslAnswer::Success(rspauth) => match self.client.verify_rspauth(&rspauth) {
                Ok(()) => LearnerStep::Authenticated,
                Err(e) => unauthenticated(
                    format!(
                        "the member accepted this member's credentials but did not prove it \
                         knows their password: {e}"
                    ),
                    true,
                ),
            },
            SaslAnswer::Failed { kept } => unauthenticated(
                format!(
                    "the member refused this member's quorum SASL credentials ({}): the password \
                     must match its QuorumServer section's user_ entry",
                    self.origin
                ),
                kept,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users(password: &str) -> SaslOptions {
        SaslOptions {
            source: "jaas.conf".into(),
            section: "QuorumServer".into(),
            users: [("member".to_string(), password.to_string())].into(),
            ..SaslOptions::default()
        }
    }

    fn learner(password: &str, require: bool) -> LearnerAuth {
        LearnerAuth::new(
            &LearnerCredentials {
                source: "jaas.conf".into(),
                section: "QuorumLearner".into(),
                username: "member".into(),
                password: password.into(),
            },
            require,
        )
    }

    /// Runs the exchange to its end: the learner's last step and the server's last verdict.
    fn exchange(
        learner: &mut LearnerAuth,
        server: &mut ServerAuth,
        users: &SaslOptions,
    ) -> (LearnerStep, Verdict) {
        let mut token = learner.start();
        loop {
            let (answer, verdict) = server.on_token(Some(users), &token);
            match learner.on_answer(answer) {
                LearnerStep::Send(next) => token = next,
                step => return (step, verdict),
            }
        }
    }

    #[test]
    fn members_with_the_same_secret_authenticate_both_ways() {
        let mut server = ServerAuth::new(Some(true));
        let (step, verdict) = exchange(&mut learner("s3cret", true), &mut server, &users("s3cret"));
        assert_eq!(step, LearnerStep::Authenticated);
        assert_eq!(verdict, Verdict::Authenticated("member".into()));
        assert_eq!(server.on_request(), Verdict::Serve);
        // A token after the end closes the connection.
        let (_, verdict) = server.on_token(Some(&users("s3cret")), b"again");
        assert!(matches!(verdict, Verdict::Close(_)));
    }

    #[test]
    fn a_wrong_secret_is_refused_when_required_and_served_when_not() {
        let mut server = ServerAuth::new(Some(true));
        let (step, verdict) = exchange(&mut learner("wrong", true), &mut server, &users("s3cret"));
        assert!(
            matches!(&step, LearnerStep::Refuse(why) if why.contains("refused this member's")),
            "{step:?}"
        );
        assert!(
            matches!(&verdict, Verdict::Close(why) if why.contains("wrong password")),
            "{verdict:?}"
        );

        // The rolling upgrade's first step: enabled, nothing required.
        let mut server = ServerAuth::new(Some(false));
        let (step, verdict) = exchange(&mut learner("wrong", false), &mut server, &users("s3cret"));
        assert!(matches!(step, LearnerStep::Unauthenticated(_)), "{step:?}");
        assert!(
            matches!(verdict, Verdict::ServeUnauthenticated(_)),
            "{verdict:?}"
        );
        assert_eq!(server.on_request(), Verdict::Serve);
    }

    #[test]
    fn a_member_that_does_not_authenticate_is_served_only_when_not_required() {
        let mut required = ServerAuth::new(Some(true));
        assert!(matches!(required.on_request(), Verdict::Close(_)));
        let mut optional = ServerAuth::new(Some(false));
        assert!(matches!(
            optional.on_request(),
            Verdict::ServeUnauthenticated(_)
        ));
        assert_eq!(
            optional.on_request(),
            Verdict::Serve,
            "logged once per connection"
        );
        let mut disabled = ServerAuth::new(None);
        assert_eq!(disabled.on_request(), Verdict::Serve);
        // A request in the middle of the exchange is a protocol error.
        let mut halfway = ServerAuth::new(Some(false));
        let _ = halfway.on_token(Some(&users("x")), b"");
        assert!(matches!(halfway.on_request(), Verdict::Close(_)));
    }

    #[test]
    fn a_learner_that_requires_sasl_refuses_a_member_without_it() {
        let mut server = ServerAuth::new(None);
        let (answer, verdict) = server.on_token(None, b"");
        assert_eq!(
            (answer.clone(), verdict),
            (SaslAnswer::NotEnabled, Verdict::Serve)
        );
        assert!(matches!(
            learner("s", true).on_answer(answer.clone()),
            LearnerStep::Refuse(_)
        ));
        assert!(matches!(
            learner("s", false).on_answer(answer),
            LearnerStep::Unauthenticated(_)
        ));
        // A server that claims success without knowing the password is caught.
        let mut client = learner("s", true);
        let challenge = DigestServer::new(QUORUM_REALM, "x/y", "nonce").challenge();
        assert!(matches!(
            client.on_answer(SaslAnswer::Challenge(challenge)),
            LearnerStep::Send(_)
        ));
        let forged = SaslAnswer::Success(b"rspauth=00000000000000000000000000000000".to_vec());
        assert!(matches!(client.on_answer(forged), LearnerStep::Refuse(_)));
    }

    #[test]
    fn oversized_and_malformed_tokens_close_the_connection() {
        let mut server = ServerAuth::new(Some(false));
        let (answer, verdict) =
            server.on_token(Some(&users("s")), &vec![b'a'; MAX_TOKEN_BYTES + 1]);
        assert_eq!(answer, SaslAnswer::Failed { kept: false });
        assert!(matches!(verdict, Verdict::Close(_)));
        let mut server = ServerAuth::new(Some(true));
        let _ = server.on_token(Some(&users("s")), b"");
        let (_, verdict) = server.on_token(Some(&users("s")), b"\xff\x00garbage=\"");
        assert!(matches!(verdict, Verdict::Close(_)));
        let mut client = learner("s", false);
        assert!(matches!(
            client.on_answer(SaslAnswer::Challenge(b"not a challenge".to_vec())),
            LearnerStep::Refuse(_)
        ));
    }
}
