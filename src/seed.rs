//! `userd seed --users N`: realistic demo users in bulk, for demos and benchmarks. Names,
//! usernames, bios with job words and join dates spread over five years come from a
//! small deterministic generator; every user shares one password hash (hashed once).

use jiff::{SignedDuration, Timestamp};

const FIRST: &[&str] = &[
    "Alice", "Bob", "Carol", "David", "Emma", "Farid", "Grace", "Hiro", "Ines", "Jamal", "Kira", "Liam", "Maya",
    "Noah", "Olga", "Pablo", "Quinn", "Rosa", "Sven", "Tara", "Umar", "Vera", "Wei", "Ximena", "Yusuf", "Zoe", "Amara",
    "Bruno", "Chloe", "Dmitri", "Elena", "Felix", "Giulia", "Hannah", "Ivan", "Julia", "Kenji", "Lena", "Mateo",
    "Nadia", "Oscar", "Priya", "Rafael", "Sofia", "Tomas", "Uma", "Victor", "Wanda", "Yara", "Zaid",
];
const LAST: &[&str] = &[
    "Smith",
    "Johnson",
    "Garcia",
    "Chen",
    "Kowalski",
    "Nguyen",
    "Okafor",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Ivanova",
    "Haddad",
    "Silva",
    "Dubois",
    "Andersen",
    "Murphy",
    "Kaur",
    "Yilmaz",
    "Novak",
    "Lopez",
    "Fischer",
    "Moreau",
    "Sato",
    "Kim",
    "Petrov",
    "Costa",
    "Jansen",
    "Ahmed",
    "Walker",
    "Lindqvist",
    "Mendes",
    "Oliveira",
    "Brown",
    "Horvat",
    "Nakamura",
    "Ortiz",
    "Popescu",
    "Quispe",
    "Reyes",
    "Stone",
];
const ROLES: &[&str] = &[
    "software engineer",
    "data scientist",
    "product designer",
    "engineering manager",
    "developer advocate",
    "site reliability engineer",
    "security researcher",
    "technical writer",
    "frontend developer",
    "backend developer",
    "machine learning engineer",
    "QA engineer",
    "mobile developer",
    "database administrator",
    "cloud architect",
    "UX researcher",
    "product manager",
    "recruiter",
    "founder",
    "student",
];
const TOPICS: &[&str] = &[
    "distributed systems",
    "Rust",
    "Python",
    "APIs",
    "accessibility",
    "open source",
    "compilers",
    "PostgreSQL",
    "observability",
    "design systems",
    "climate tech",
    "healthcare",
    "fintech",
    "education",
    "games",
    "robotics",
    "typography",
    "privacy",
    "payments",
    "search",
];

/// One generated user: what is stored, less the shared password hash.
#[derive(Debug, Clone)]
pub struct SeedUser {
    pub external_id: String,
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub bio: String,
    pub joined: Timestamp,
}

/// A small xorshift generator: seeding needs variety, not secrecy.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() % from.len() as u64) as usize]
    }
}

/// `count` users numbered from `first_number` (the numbers keep usernames and e-mails
/// unique across runs), joined within five years before `now`. `run` keeps the external
/// ids of two runs apart.
pub fn users(first_number: u64, count: u64, now: Timestamp, run: &str) -> Vec<SeedUser> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ first_number.wrapping_mul(0x2545_f491_4f6c_dd1d) | 1);
    let five_years = 5 * 365 * 24 * 3600;
    (first_number..first_number + count)
        .map(|n| {
            let first = rng.pick(FIRST);
            let last = rng.pick(LAST);
            let username = format!("{}.{}{n}", first.to_lowercase(), last.to_lowercase());
            let bio =
                format!("{} interested in {} and {}.", article(rng.pick(ROLES)), rng.pick(TOPICS), rng.pick(TOPICS));
            let ago = (rng.next() % five_years) as i64;
            SeedUser {
                external_id: format!("s{run}{n:0>12}"),
                email: format!("{username}@example.com"),
                username,
                first_name: first.to_string(),
                last_name: last.to_string(),
                bio,
                joined: now.checked_sub(SignedDuration::from_secs(ago)).unwrap_or(now),
            }
        })
        .collect()
}

fn article(role: &str) -> String {
    let first = role.chars().next().map(|c| c.to_ascii_lowercase());
    let a = if matches!(first, Some('a' | 'e' | 'i' | 'o' | 'u')) { "An" } else { "A" };
    format!("{a} {role}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_users_are_varied_unique_and_valid() {
        let now = Timestamp::now();
        let users = users(1, 500, now, "ab");
        let names: std::collections::HashSet<_> = users.iter().map(|u| u.username.clone()).collect();
        assert_eq!(names.len(), 500, "usernames are unique");
        assert!(users.iter().all(|u| crate::domain::model::Username::parse(&u.username).is_ok()));
        assert!(users.iter().all(|u| crate::domain::model::Email::parse(&u.email).is_ok()));
        let firsts: std::collections::HashSet<_> = users.iter().map(|u| u.first_name.clone()).collect();
        assert!(firsts.len() > 20, "varied first names");
        assert!(users.iter().all(|u| u.joined <= now && u.bio.ends_with('.')));
    }
}
