//! Ports OpenTicket alone needs: the signed codes printed as QR codes on tickets (seed 003 §7.2).

use uuid::Uuid;

/// Why a ticket code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TicketCodeError {
    /// Not of the form Tessera issues.
    #[error("the code is malformed")]
    Malformed,
    /// The signature does not match (forged or altered).
    #[error("the code's signature is invalid")]
    BadSignature,
}

/// Signs and verifies the codes printed as QR codes on tickets (OpenTicket seed 003 §7.2 `qrCode`).
pub trait TicketCodes: Send + Sync {
    /// The code for a ticket, e.g. `OPENTICKET-<ticket id>.<signature>`.
    fn sign(&self, ticket_id: Uuid) -> String;
    /// The ticket id a genuine code names.
    fn verify(&self, code: &str) -> Result<Uuid, TicketCodeError>;
}
