//! Identifiers and the phone number: parsed once at the edge, valid everywhere after.

use std::fmt;

use uuid::Uuid;

use super::DomainError;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[derive(serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh random id.
            pub fn random() -> Self {
                Self(Uuid::new_v4())
            }

            /// Parses a UUID, tolerating the vendor-style prefix (e.g. `batch_…`).
            pub fn parse(text: &str) -> Result<Self, DomainError> {
                let bare = text.strip_prefix($prefix).unwrap_or(text);
                Uuid::parse_str(bare)
                    .map(Self)
                    .map_err(|_| DomainError::new("id", format!("`{text}` is not a valid id")))
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }

            pub fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }
    };
}

uuid_id!(
    /// A campaign ("batch call").
    CampaignId,
    "batch_"
);
uuid_id!(
    /// A contact of one campaign.
    ContactId,
    "contact_"
);
uuid_id!(
    /// One placed call: one attempt of one contact.
    CallId,
    "call_"
);

/// An organisation (tenant). Every API key belongs to exactly one.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct OrgId(String);

impl OrgId {
    /// 1–64 characters of `[A-Za-z0-9_-]`.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        let valid_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        if text.is_empty() || text.len() > 64 || !text.chars().all(valid_char) {
            return Err(DomainError::new(
                "organisation",
                "must be 1 to 64 characters of letters, digits, `_` or `-`",
            ));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A phone number in E.164 form: `+`, a non-zero digit, then 1 to 14 more digits.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        let digits = text.strip_prefix('+').unwrap_or("");
        let valid = digits.len() >= 2
            && digits.len() <= 15
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if valid {
            Ok(Self(text.to_owned()))
        } else {
            Err(DomainError::new(
                "phone_number",
                format!("`{text}` is not an E.164 number (like +14155550123)"),
            ))
        }
    }

    /// Reads a number as people write it in a spreadsheet: with a leading `+`, its digits in any
    /// spacing (`+44 20 7946 0958`), taken as E.164 is; otherwise a national format of `region`
    /// (`(201) 555-0123` in `US`), read with libphonenumber's data, which must be a valid number
    /// of its country.
    pub fn read(text: &str, region: Option<Region>) -> Result<Self, DomainError> {
        let compact: String = text
            .chars()
            .filter(|c| !matches!(c, ' ' | '\u{a0}' | '-' | '.' | '(' | ')'))
            .collect();
        let invalid = |why: &str| DomainError::new("phone_number", format!("`{text}` {why}"));
        if compact.starts_with('+') {
            return Self::parse(&compact).map_err(|_| invalid("is not an E.164 number"));
        }
        let Some(region) = region else {
            return Err(invalid(
                "is not in E.164 and no `default_region` says whose national format it is",
            ));
        };
        let number = phonenumber::parse(Some(region.0), text)
            .map_err(|_| invalid("is not a phone number"))?;
        if !number.is_valid() {
            return Err(invalid("is not a valid number of its country"));
        }
        Self::parse(&number.format().mode(phonenumber::Mode::E164).to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A country whose national number formats [`PhoneNumber::read`] understands (ISO 3166
/// alpha-2, like `US` or `FR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region(phonenumber::country::Id);

impl Region {
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        text.to_ascii_uppercase().parse().map(Self).map_err(|_| {
            DomainError::new(
                "default_region",
                format!("`{text}` is not an ISO 3166 alpha-2 country code (like US or FR)"),
            )
        })
    }
}

/// Phone numbers are personal data: debug output shows only the last two digits.
impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tail = &self.0[self.0.len().saturating_sub(2)..];
        write!(f, "PhoneNumber(+…{tail})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_phone(input: &str, valid: bool) {
        assert_eq!(PhoneNumber::parse(input).is_ok(), valid, "{input}");
    }

    #[test]
    fn phone_numbers_follow_e164() {
        check_phone("+14155550123", true);
        check_phone("+12", true);
        check_phone("+123456789012345", true);
        check_phone("+1234567890123456", false);
        check_phone("+1", false);
        check_phone("+04155550123", false);
        check_phone("14155550123", false);
        check_phone("+1415555012a", false);
        check_phone("", false);
    }

    #[test]
    fn national_formats_become_e164_with_their_region() {
        let us = Some(Region::parse("us").unwrap());
        let read = |text: &str, region| PhoneNumber::read(text, region).map(|n| n.0);
        assert_eq!(read("(201) 555-0123", us).unwrap(), "+12015550123");
        assert_eq!(read("201.555.0123", us).unwrap(), "+12015550123");
        assert_eq!(read("+44 20 7946 0958", None).unwrap(), "+442079460958");
        assert_eq!(read("+44 7700 900105", None).unwrap(), "+447700900105");
        assert_eq!(read("011 44 20 7946 0958", us).unwrap(), "+442079460958");
        assert!(read("+44 20 79x6", None).is_err());
        let fr = Some(Region::parse("FR").unwrap());
        assert_eq!(read("01 23 45 67 89", fr).unwrap(), "+33123456789");
        // E.164 is taken as it is, valid in its country or not (test ranges such as +1 555).
        assert_eq!(read("+15550001234", None).unwrap(), "+15550001234");
        assert!(
            read("201 555 0123", None).is_err(),
            "a national number needs a region"
        );
        assert!(read("12", us).is_err());
        assert!(read("call me", us).is_err());
        assert!(Region::parse("XX").is_err());
        assert!(Region::parse("").is_err());
    }

    #[test]
    fn campaign_ids_tolerate_the_vendor_prefix() {
        let id = CampaignId::random();
        assert_eq!(CampaignId::parse(&format!("batch_{id}")).unwrap(), id);
        assert_eq!(CampaignId::parse(&id.to_string()).unwrap(), id);
        assert!(CampaignId::parse("batch_nope").is_err());
    }

    #[test]
    fn phone_numbers_do_not_leak_into_debug_output() {
        let phone = PhoneNumber::parse("+14155550123").unwrap();
        assert_eq!(format!("{phone:?}"), "PhoneNumber(+…23)");
    }
}
