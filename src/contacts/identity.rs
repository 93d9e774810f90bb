//! One person, one contact: which stored contact an imported row belongs to. A row goes to
//! the contact with its id; a row whose id is not stored goes to the contact that already has
//! its email (else its phone), so an `id` column next to earlier email-keyed imports updates
//! those contacts instead of creating a second one for the same person. A row that would give
//! one person's address to another contact is a conflict, reported by line.

use std::collections::HashMap;

/// Where one imported row goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// The contact with the row's own id (stored, or new).
    Own,
    /// The stored contact `id` that already has the row's address (`by`: `email` or `phone`).
    Existing {
        /// That contact's id.
        id: String,
        /// Which address matched.
        by: &'static str,
    },
    /// The row's address belongs to another contact than the one it names: not imported.
    Conflict {
        /// The column.
        column: &'static str,
        /// Why, and what to do.
        reason: String,
    },
}

/// What is known of one row.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    /// The row's id (explicit, else its email, else its phone).
    pub id: &'a str,
    /// True when a contact with that id is stored (or placed earlier in this import).
    pub id_known: bool,
    /// The contact the row's email belongs to, if any.
    pub email_owner: Option<&'a str>,
    /// The contact the row's phone belongs to, if any.
    pub phone_owner: Option<&'a str>,
}

/// Decides where a row goes.
pub fn place(row: Row<'_>) -> Placement {
    let other = |owner: Option<&str>| owner.filter(|o| *o != row.id).map(str::to_string);
    let (email, phone) = (other(row.email_owner), other(row.phone_owner));
    if row.id_known {
        for (column, owner) in [("email", &email), ("phone", &phone)] {
            if let Some(o) = owner {
                return Placement::Conflict {
                    column,
                    reason: format!(
                        "this {column} belongs to contact {o:?}, but the row's id is {:?}: correct the id or the {column} (one person, one contact)",
                        row.id
                    ),
                };
            }
        }
        return Placement::Own;
    }
    match (email, phone) {
        (Some(e), Some(p)) if e != p => Placement::Conflict {
            column: "phone",
            reason: format!(
                "the email belongs to contact {e:?} and the phone to contact {p:?}: correct one of them (one person, one contact)"
            ),
        },
        (Some(id), _) => Placement::Existing { id, by: "email" },
        (None, Some(id)) => Placement::Existing { id, by: "phone" },
        (None, None) => Placement::Own,
    }
}

/// The addresses placed so far in one import (on top of the stored indexes), so that two rows
/// of one file never make two contacts of one person either.
#[derive(Debug, Default)]
pub struct Placed {
    owners: HashMap<String, String>,
    ids: std::collections::HashSet<String>,
}

impl Placed {
    /// The contact `address` was placed on in this import.
    pub fn owner(&self, address: &str) -> Option<&str> {
        self.owners.get(address).map(String::as_str)
    }
    /// True when a row of this import already went to contact `id`.
    pub fn has_id(&self, id: &str) -> bool {
        self.ids.contains(id)
    }
    /// Notes that `addresses` now belong to contact `id`.
    pub fn add<'a>(&mut self, id: &str, addresses: impl IntoIterator<Item = &'a str>) {
        self.ids.insert(id.to_string());
        for a in addresses {
            self.owners.insert(a.to_string(), id.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row<'a>(id: &'a str, id_known: bool, email_owner: Option<&'a str>, phone_owner: Option<&'a str>) -> Row<'a> {
        Row {
            id,
            id_known,
            email_owner,
            phone_owner,
        }
    }

    #[test]
    fn a_new_id_with_a_known_address_updates_that_contact() {
        assert_eq!(
            place(row("c-17", false, Some("ann@example.com"), None)),
            Placement::Existing {
                id: "ann@example.com".into(),
                by: "email"
            }
        );
        assert_eq!(
            place(row("c-17", false, None, Some("+12175550100"))),
            Placement::Existing {
                id: "+12175550100".into(),
                by: "phone"
            }
        );
        assert_eq!(place(row("c-17", false, None, None)), Placement::Own);
        assert_eq!(place(row("c-17", true, Some("c-17"), Some("c-17"))), Placement::Own);
    }

    #[test]
    fn an_address_of_someone_else_is_a_conflict() {
        assert!(matches!(
            place(row("c-17", true, Some("c-18"), None)),
            Placement::Conflict { column: "email", .. }
        ));
        assert!(matches!(
            place(row("c-17", false, Some("c-18"), Some("c-19"))),
            Placement::Conflict { column: "phone", .. }
        ));
        assert_eq!(
            place(row("c-17", false, Some("c-18"), Some("c-18"))),
            Placement::Existing {
                id: "c-18".into(),
                by: "email"
            }
        );
    }
}
