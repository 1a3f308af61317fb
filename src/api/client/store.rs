//! The store routes' client methods (see `docs/PROTOCOL.md`, Local API).

use std::io::Write;
use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{ApiClient, ClientError, decode};
use crate::api::store_types::{
    AddRequest, CatQuery, Empty, GetRequest, LsQuery, RmRequest, TransferView, VerifyRequest,
};
use crate::store::read::{GetReport, RmReport};
use crate::store::{AddReport, GcReport, LsReport, StatsReport, VerifyReport};

impl ApiClient {
    /// POST a JSON body (or none), decode a JSON answer.
    async fn store_post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, ClientError> {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(self.token.as_str());
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| self.connect_err(e))?;
        decode(resp).await
    }

    /// GET with a query, decode a JSON answer.
    async fn store_query<Q: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        query: &Q,
    ) -> Result<T, ClientError> {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .query(query)
            .bearer_auth(self.token.as_str())
            .send()
            .await
            .map_err(|e| self.connect_err(e))?;
        decode(resp).await
    }

    /// `POST /v1/store/add`: one report per path, in order.
    pub async fn add(&self, req: &AddRequest) -> Result<Vec<AddReport>, ClientError> {
        self.store_post("/v1/store/add", Some(req)).await
    }

    /// `POST /v1/store/get`: restore `cap` to the absolute path `output`.
    /// (Named `store_get`: `get` is the client's generic JSON GET.)
    pub async fn store_get(&self, cap: &str, output: &Path) -> Result<GetReport, ClientError> {
        let req = GetRequest {
            cap: cap.to_owned(),
            output: output.to_owned(),
        };
        self.store_post("/v1/store/get", Some(&req)).await
    }

    /// `GET /v1/store/cat`: stream a file's bytes into `out` as they come;
    /// returns how many were written.
    pub async fn cat(
        &self,
        cap: &str,
        range: Option<&str>,
        out: &mut (dyn Write + Send),
    ) -> Result<u64, ClientError> {
        let q = CatQuery {
            cap: cap.to_owned(),
            range: range.map(str::to_owned),
        };
        let mut resp = self
            .http
            .get(format!("{}/v1/store/cat", self.base))
            .query(&q)
            .bearer_auth(self.token.as_str())
            .send()
            .await
            .map_err(|e| self.connect_err(e))?;
        if !resp.status().is_success() {
            return decode::<Empty>(resp).await.map(|_| 0);
        }
        let stream: Option<u64> = resp
            .headers()
            .get(crate::api::server::STREAM_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let mut n = 0u64;
        loop {
            match resp.chunk().await {
                Ok(Some(b)) => {
                    out.write_all(&b).map_err(ClientError::Output)?;
                    n += b.len() as u64;
                }
                Ok(None) => break,
                Err(e) => return Err(self.why_broken(stream, e).await),
            }
        }
        out.flush().map_err(ClientError::Output)?;
        Ok(n)
    }

    /// The daemon's own error for a cat body that broke off (kept under the
    /// answer's `x-cairn-stream` id), or the broken transfer itself when the
    /// daemon has none to give.
    async fn why_broken(&self, stream: Option<u64>, broke: reqwest::Error) -> ClientError {
        let Some(id) = stream else {
            return ClientError::Interrupted(broke);
        };
        let q = crate::api::store_types::FailureQuery { id };
        match self
            .store_query::<_, crate::api::types::ApiError>("/v1/store/cat/failure", &q)
            .await
        {
            Ok(e) => ClientError::Api(e),
            Err(_) => ClientError::Interrupted(broke),
        }
    }

    /// `GET /v1/store/ls`: the pinned roots, or a directory's entries.
    pub async fn ls(&self, cap: Option<&str>) -> Result<LsReport, ClientError> {
        let q = LsQuery {
            cap: cap.map(str::to_owned),
        };
        self.store_query("/v1/store/ls", &q).await
    }

    /// `POST /v1/store/rm`.
    pub async fn rm(&self, cap: &str) -> Result<RmReport, ClientError> {
        let req = RmRequest {
            cap: cap.to_owned(),
        };
        self.store_post("/v1/store/rm", Some(&req)).await
    }

    /// `POST /v1/store/redundancy`.
    pub async fn set_redundancy(
        &self,
        cap: &str,
        redundancy: &str,
    ) -> Result<AddReport, ClientError> {
        let req = crate::api::store_types::RedundancyRequest {
            cap: cap.to_owned(),
            redundancy: redundancy.to_owned(),
        };
        self.store_post("/v1/store/redundancy", Some(&req)).await
    }

    /// `POST /v1/store/gc`.
    pub async fn gc(&self) -> Result<GcReport, ClientError> {
        self.store_post::<Empty, _>("/v1/store/gc", None).await
    }

    /// `POST /v1/store/verify`.
    pub async fn verify(&self, repair: bool) -> Result<VerifyReport, ClientError> {
        self.store_post("/v1/store/verify", Some(&VerifyRequest { repair }))
            .await
    }

    /// `GET /v1/store/stats`.
    pub async fn store_stats(&self) -> Result<StatsReport, ClientError> {
        self.get("/v1/store/stats").await
    }

    /// `GET /v1/transfers`: the adds, gets and cats in progress.
    pub async fn transfers(&self) -> Result<Vec<TransferView>, ClientError> {
        self.get("/v1/transfers").await
    }

    /// `POST /v1/transfers/{id}/cancel`.
    pub async fn cancel_transfer(&self, id: u64) -> Result<(), ClientError> {
        self.store_post::<Empty, Empty>(&format!("/v1/transfers/{id}/cancel"), None)
            .await
            .map(|_| ())
    }
}
