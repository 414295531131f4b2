//! Black-box test suite lives in `api/`.
