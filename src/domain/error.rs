//! The one error type of the domain: which field is wrong, and why.

/// A value that does not satisfy a domain rule, named by the field that carried it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct DomainError {
    /// The field as the client spelled it, e.g. `contacts[3].phone_number`.
    pub field: String,
    /// What is wrong with it, in lowercase and without a final period.
    pub message: String,
}

impl DomainError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Places the field under a parent, e.g. `phone_number` becomes `contacts[3].phone_number`.
    #[must_use]
    pub fn within(mut self, parent: &str) -> Self {
        self.field = format!("{parent}.{}", self.field);
        self
    }
}
