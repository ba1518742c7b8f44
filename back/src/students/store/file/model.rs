//! The students in memory: file order, an index by name, and little else, so that memory stays
//! near the size of the file.
//!
//! - Every name lives in one text arena (`text`), back to back: no allocation per student.
//! - `slots` holds one 12-byte slot per student in file order; a deleted student leaves a dead slot
//!   (so a delete never moves or re-indexes the others) until the dead outnumber the living, when
//!   `compact` rebuilds everything once (amortised O(1) per delete).
//! - `index` is a hash table of slot numbers, hashed by name (hashbrown's `HashTable`, which looks
//!   the name up in the arena: no second copy of it).
//! - Each slot has a sequence number, increasing in file order, never reused while the process
//!   runs: the REST list's cursor, stable across creates and deletes.
//!
//! The model is changed only by the durable writer (`mod.rs`), after the file is committed;
//! `Plan` is a batch of changes checked against the model without changing it.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, RandomState};

use hashbrown::hash_table::Entry;
use hashbrown::HashTable;

use super::views::{needs_escape, AgeForm, StudentRef};
use super::Change;

/// A student's age: its value, and how the file wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Age {
    pub(crate) value: u8,
    pub(crate) form: AgeForm,
}

impl Age {
    /// An age as the API writes it: a string, like the original file.
    pub(crate) fn text(value: u8) -> Self {
        Age { value, form: AgeForm::Text }
    }
}

/// One student, or a dead slot. 12 bytes.
#[derive(Debug, Clone, Copy)]
struct Slot {
    /// Where the name starts in the arena.
    start: u32,
    seq: u32,
    name_len: u16,
    age: u8,
    /// Low bits: 0 dead, 1 text, 2 integer, 3 + n: odd text of n digits after the name.
    /// `ESCAPED`: the name needs escaping in JSON (rare: saves a scan of every name per file write).
    form: u8,
}

const DEAD: u8 = 0;
const ESCAPED: u8 = 0x80;

impl Slot {
    fn is_live(&self) -> bool {
        self.form & !ESCAPED != DEAD
    }

    fn form(&self) -> AgeForm {
        match self.form & !ESCAPED {
            1 => AgeForm::Text,
            2 => AgeForm::Integer,
            n => AgeForm::Odd(n - 3),
        }
    }
}

fn form_code(form: AgeForm) -> u8 {
    match form {
        AgeForm::Text => 1,
        AgeForm::Integer => 2,
        AgeForm::Odd(n) => 3 + n,
    }
}

/// Why a name could not be added.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AddError {
    Duplicate,
    /// The arena would pass 4 GiB.
    TooLarge,
}

pub(crate) struct Students {
    text: String,
    slots: Vec<Slot>,
    index: HashTable<u32>,
    hasher: RandomState,
    live: usize,
    /// Arena bytes that no live slot uses any more.
    dead_text: usize,
    next_seq: u32,
}

impl Default for Students {
    fn default() -> Self {
        Students::with_capacity(0, 0, 0)
    }
}

impl Students {
    /// Room for `students` students and `text` bytes of names (reserved, not touched: a generous
    /// guess costs address space, not memory), and an index sized for `indexed` students (a close
    /// count: its scattered inserts touch every page of it; beyond it, it grows).
    pub(crate) fn with_capacity(students: usize, text: usize, indexed: usize) -> Self {
        Students {
            text: String::with_capacity(text),
            slots: Vec::with_capacity(students),
            index: HashTable::with_capacity(indexed),
            hasher: RandomState::new(),
            live: 0,
            dead_text: 0,
            next_seq: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.live
    }

    /// Gives back what loading reserved beyond the need.
    pub(crate) fn shrink_to_fit(&mut self) {
        self.text.shrink_to_fit();
        self.slots.shrink_to_fit();
    }

    /// Bytes of names in the arena: a size hint for the views.
    pub(crate) fn text_len(&self) -> usize {
        self.text.len()
    }

    fn name_of<'t>(text: &'t str, slot: &Slot) -> &'t str {
        let start = slot.start as usize;
        &text[start..start + slot.name_len as usize]
    }

    fn student(&self, slot: &Slot) -> StudentRef<'_> {
        let start = slot.start as usize;
        let name_end = start + slot.name_len as usize;
        let form = slot.form();
        let odd = match form {
            AgeForm::Odd(n) => &self.text[name_end..name_end + n as usize],
            _ => "",
        };
        StudentRef { name: &self.text[start..name_end], age: slot.age, form, odd, plain: slot.form & ESCAPED == 0 }
    }

    fn find(&self, name: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(name);
        let (text, slots) = (&self.text, &self.slots);
        self.index.find(hash, |&at| Self::name_of(text, &slots[at as usize]) == name).copied()
    }

    pub(crate) fn get(&self, name: &str) -> Option<StudentRef<'_>> {
        self.find(name).map(|at| self.student(&self.slots[at as usize]))
    }

    /// The live students in file order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = StudentRef<'_>> {
        self.slots.iter().filter(|slot| slot.is_live()).map(|slot| self.student(slot))
    }

    /// Up to `limit` students from the one whose cursor is `from` (or the next one still there),
    /// and the cursor of the student after them, if any.
    pub(crate) fn page(&self, from: u32, limit: usize) -> (Vec<StudentRef<'_>>, Option<u32>) {
        let first = self.slots.partition_point(|slot| slot.seq < from);
        let mut live = self.slots[first..].iter().filter(|slot| slot.is_live());
        let page = live.by_ref().take(limit).map(|slot| self.student(slot)).collect();
        (page, live.next().map(|slot| slot.seq))
    }

    /// Adds a student at the end. `odd` holds the digits of an `Odd` age.
    pub(crate) fn push(&mut self, name: &str, age: Age, odd: &str) -> Result<(), AddError> {
        let start = u32::try_from(self.text.len()).map_err(|_| AddError::TooLarge)?;
        if self.text.len() + name.len() + odd.len() > u32::MAX as usize || self.slots.len() >= u32::MAX as usize {
            return Err(AddError::TooLarge);
        }
        // One probe finds a duplicate or the free place (loading a million students is mostly this).
        let hash = self.hasher.hash_one(name);
        let (text, slots, hasher) = (&self.text, &self.slots, &self.hasher);
        let free = match self.index.entry(
            hash,
            |&at| Self::name_of(text, &slots[at as usize]) == name,
            |&at| hasher.hash_one(Self::name_of(text, &slots[at as usize])),
        ) {
            Entry::Occupied(_) => return Err(AddError::Duplicate),
            Entry::Vacant(free) => free,
        };
        let at = self.slots.len() as u32;
        free.insert(at);
        self.text.push_str(name);
        self.text.push_str(odd);
        let seq = self.next_seq;
        self.next_seq += 1;
        let escaped = if needs_escape(name) { ESCAPED } else { 0 };
        self.slots.push(Slot {
            start,
            seq,
            name_len: name.len() as u16,
            age: age.value,
            form: form_code(age.form) | escaped,
        });
        self.live += 1;
        Ok(())
    }

    /// Sets the age of the student in slot `at` (written as a string from now on).
    fn set_age(&mut self, at: u32, age: u8) {
        let slot = &mut self.slots[at as usize];
        if let AgeForm::Odd(n) = slot.form() {
            self.dead_text += n as usize;
        }
        slot.age = age;
        slot.form = form_code(AgeForm::Text) | (slot.form & ESCAPED);
    }

    /// Removes the student in slot `at`: its slot dies, nothing else moves.
    fn remove(&mut self, at: u32) {
        let slot = self.slots[at as usize];
        let hash = self.hasher.hash_one(Self::name_of(&self.text, &slot));
        if let Ok(entry) = self.index.find_entry(hash, |&i| i == at) {
            entry.remove();
        }
        self.dead_text += slot.name_len as usize + if let AgeForm::Odd(n) = slot.form() { n as usize } else { 0 };
        self.slots[at as usize].form = DEAD;
        self.live -= 1;
    }

    /// Rebuilds the arena, the slots and the index without the dead, once they outnumber the
    /// living: each delete pays O(1) of it on average. Sequence numbers (cursors) are kept.
    fn compact_if_worth_it(&mut self) {
        let dead = self.slots.len() - self.live;
        if dead < 1024 || dead < self.live {
            return;
        }
        let mut text = String::with_capacity(self.text.len() - self.dead_text);
        let mut slots = Vec::with_capacity(self.live);
        for slot in self.slots.iter().filter(|slot| slot.is_live()) {
            let start = slot.start as usize;
            let odd = if let AgeForm::Odd(n) = slot.form() { n as usize } else { 0 };
            let new_start = text.len() as u32;
            text.push_str(&self.text[start..start + slot.name_len as usize + odd]);
            slots.push(Slot { start: new_start, ..*slot });
        }
        let mut index = HashTable::with_capacity(slots.len());
        for (at, slot) in slots.iter().enumerate() {
            let hash = self.hasher.hash_one(Self::name_of(&text, slot));
            let hasher = &self.hasher;
            index.insert_unique(hash, at as u32, |&i: &u32| hasher.hash_one(Self::name_of(&text, &slots[i as usize])));
        }
        self.text = text;
        self.slots = slots;
        self.index = index;
        self.dead_text = 0;
    }

    /// Applies a committed plan.
    pub(crate) fn apply(&mut self, plan: Plan) {
        for (at, edit) in plan.edits {
            match edit {
                Some(age) => self.set_age(at, age),
                None => self.remove(at),
            }
        }
        for (name, age) in plan.creates {
            if let Some(age) = age {
                // Checked by the plan: the name is free, and the arena has room.
                let _ = self.push(&name, Age::text(age), "");
            }
        }
        self.compact_if_worth_it();
    }

    /// The students with `plan` applied, in file order, without changing the model: what the
    /// file being committed holds.
    pub(crate) fn iter_with<'a>(&'a self, plan: &'a Plan) -> impl Iterator<Item = StudentRef<'a>> + 'a {
        let mut edits = plan.edits.iter().peekable();
        let existing = self.slots.iter().enumerate().filter_map(move |(at, slot)| {
            if !slot.is_live() {
                return None;
            }
            while edits.next_if(|(&edited, _)| edited < at as u32).is_some() {}
            match edits.next_if(|(&edited, _)| edited == at as u32) {
                Some((_, Some(age))) => {
                    Some(StudentRef { age: *age, form: AgeForm::Text, odd: "", ..self.student(slot) })
                }
                Some((_, None)) => None,
                None => Some(self.student(slot)),
            }
        });
        let created = plan.creates.iter().filter_map(|(name, age)| {
            age.map(|age| StudentRef { name, age, form: AgeForm::Text, odd: "", plain: !needs_escape(name) })
        });
        existing.chain(created)
    }
}

/// Why a change was refused (nothing of it is in the plan).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    Exists,
    Missing,
    /// `STUDENTS_MAX` students already.
    Full(usize),
}

/// Where a name touched by a plan is.
#[derive(Debug, Clone, Copy)]
enum Target {
    Slot(u32),
    Created(usize),
}

/// A batch of changes, checked in order against the model and the earlier changes of the batch,
/// without touching the model. O(1) per change.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// Existing slots: their new age, or `None` for deleted.
    edits: BTreeMap<u32, Option<u8>>,
    /// New students in order; `None` once deleted again in the same batch.
    creates: Vec<(String, Option<u8>)>,
    touched: HashMap<String, Target>,
    /// Students the plan adds, minus those it removes.
    delta: isize,
}

impl Plan {
    /// The age `name` has with the plan so far, and where it is (`None`: no such student).
    fn current(&self, model: &Students, name: &str) -> (Option<Target>, Option<u8>) {
        match self.touched.get(name) {
            Some(&Target::Slot(at)) => {
                let age = match self.edits.get(&at) {
                    Some(edit) => *edit,
                    None => Some(model.slots[at as usize].age),
                };
                (Some(Target::Slot(at)), age)
            }
            Some(&Target::Created(i)) => (Some(Target::Created(i)), self.creates[i].1),
            None => match model.find(name) {
                Some(at) => (Some(Target::Slot(at)), Some(model.slots[at as usize].age)),
                None => (None, None),
            },
        }
    }

    /// Adds `change` to the plan, or refuses it (and the plan stays as it was).
    pub(crate) fn add(&mut self, model: &Students, change: Change, max: usize) -> Result<(), Refusal> {
        match change {
            Change::Create { name, age } => {
                if self.current(model, &name).1.is_some() {
                    return Err(Refusal::Exists);
                }
                if (model.len() as isize + self.delta) as usize >= max {
                    return Err(Refusal::Full(max));
                }
                self.touched.insert(name.clone(), Target::Created(self.creates.len()));
                self.creates.push((name, Some(age)));
                self.delta += 1;
            }
            Change::Update { name, age } => match self.current(model, &name) {
                (Some(target), Some(_)) => self.set(target, &name, Some(age)),
                _ => return Err(Refusal::Missing),
            },
            Change::Delete { name } => match self.current(model, &name) {
                (Some(target), Some(_)) => {
                    self.set(target, &name, None);
                    self.delta -= 1;
                }
                _ => return Err(Refusal::Missing),
            },
        }
        Ok(())
    }

    fn set(&mut self, target: Target, name: &str, age: Option<u8>) {
        match target {
            Target::Slot(at) => {
                self.edits.insert(at, age);
                self.touched.insert(name.to_owned(), target);
            }
            Target::Created(i) => self.creates[i].1 = age,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(names: &[&str]) -> Students {
        let mut students = Students::default();
        for (i, name) in names.iter().enumerate() {
            students.push(name, Age::text(i as u8), "").unwrap();
        }
        students
    }

    fn names(students: &Students) -> Vec<&str> {
        students.iter().map(|s| s.name).collect()
    }

    #[test]
    fn slots_are_small() {
        assert_eq!(std::mem::size_of::<Slot>(), 12);
    }

    #[test]
    fn push_get_remove_keep_the_order_and_the_index() {
        let mut students = model(&["a", "b", "c", "d"]);
        assert_eq!(students.push("b", Age::text(1), ""), Err(AddError::Duplicate));
        students.remove(students.find("b").unwrap());
        assert!(students.get("b").is_none());
        assert_eq!(students.get("c").map(|s| s.age), Some(2));
        students.set_age(students.find("d").unwrap(), 7);
        assert_eq!(names(&students), ["a", "c", "d"]);
        assert_eq!(students.get("d").map(|s| s.age), Some(7));
        students.push("b", Age::text(9), "").unwrap();
        assert_eq!(names(&students), ["a", "c", "d", "b"]);
        assert_eq!(students.len(), 4);
    }

    #[test]
    fn names_to_escape_are_marked_and_stay_marked() {
        let mut students = model(&["plain", "quo\"te", "back\\slash"]);
        let marks: Vec<bool> = students.iter().map(|s| s.plain).collect();
        assert_eq!(marks, [true, false, false]);
        students.set_age(students.find("quo\"te").unwrap(), 9);
        assert!(!students.get("quo\"te").unwrap().plain);
        assert_eq!(students.get("quo\"te").unwrap().form, AgeForm::Text);
        students.remove(students.find("quo\"te").unwrap());
        assert_eq!(students.len(), 2);
        assert!(students.get("quo\"te").is_none());
    }

    #[test]
    fn odd_ages_keep_their_digits_until_changed() {
        let mut students = Students::default();
        students.push("zoe", Age { value: 12, form: AgeForm::Odd(3) }, "012").unwrap();
        students.push("bob", Age { value: 13, form: AgeForm::Integer }, "").unwrap();
        let zoe = students.get("zoe").unwrap();
        assert_eq!((zoe.name, zoe.age, zoe.odd), ("zoe", 12, "012"));
        assert_eq!(students.get("bob").unwrap().form, AgeForm::Integer);
        students.set_age(students.find("zoe").unwrap(), 13);
        assert_eq!(students.get("zoe").unwrap().form, AgeForm::Text);
    }

    #[test]
    fn compaction_keeps_everything_and_the_cursors() {
        let all: Vec<String> = (0..5000).map(|i| format!("s{i}")).collect();
        let mut students = Students::default();
        for name in &all {
            students.push(name, Age::text(1), "").unwrap();
        }
        let (_, cursor_of_4990) = students.page(0, 4990);
        let mut plan = Plan::default();
        for name in all.iter().take(4000) {
            plan.add(&students, Change::Delete { name: name.clone() }, usize::MAX).unwrap();
        }
        students.apply(plan);
        assert_eq!(students.slots.len(), 1000, "compacted");
        assert_eq!(students.len(), 1000);
        assert_eq!(students.get("s4000").map(|s| s.name), Some("s4000"));
        assert!(students.get("s3999").is_none());
        let (page, _) = students.page(cursor_of_4990.unwrap(), 3);
        assert_eq!(page.iter().map(|s| s.name).collect::<Vec<_>>(), ["s4990", "s4991", "s4992"]);
    }

    #[test]
    fn paging_walks_every_student_once_across_deletes() {
        let mut students = model(&["a", "b", "c", "d", "e"]);
        let (page, next) = students.page(0, 2);
        assert_eq!(page.iter().map(|s| s.name).collect::<Vec<_>>(), ["a", "b"]);
        let next = next.unwrap();
        students.remove(students.find("c").unwrap());
        let (page, last) = students.page(next, 2);
        assert_eq!(page.iter().map(|s| s.name).collect::<Vec<_>>(), ["d", "e"]);
        assert_eq!(last, None);
        assert!(students.page(99, 2).0.is_empty());
    }

    #[test]
    fn a_plan_checks_against_the_model_and_itself_and_changes_nothing() {
        let students = model(&["a", "b"]);
        let mut plan = Plan::default();
        let create = |name: &str| Change::Create { name: name.into(), age: 5 };
        assert_eq!(plan.add(&students, create("a"), 10), Err(Refusal::Exists));
        plan.add(&students, create("c"), 10).unwrap();
        assert_eq!(plan.add(&students, create("c"), 10), Err(Refusal::Exists));
        plan.add(&students, Change::Delete { name: "a".into() }, 10).unwrap();
        assert_eq!(plan.add(&students, Change::Delete { name: "a".into() }, 10), Err(Refusal::Missing));
        plan.add(&students, create("a"), 10).unwrap();
        plan.add(&students, Change::Update { name: "b".into(), age: 40 }, 10).unwrap();
        plan.add(&students, Change::Update { name: "c".into(), age: 41 }, 10).unwrap();
        assert_eq!(plan.add(&students, Change::Update { name: "z".into(), age: 1 }, 10), Err(Refusal::Missing));
        plan.add(&students, create("d"), 10).unwrap();
        plan.add(&students, Change::Delete { name: "d".into() }, 10).unwrap();
        // b, c and a again: 3 live with the plan, so a max of 3 refuses another.
        assert_eq!(plan.add(&students, create("e"), 3), Err(Refusal::Full(3)));

        let with: Vec<(&str, u8)> = students.iter_with(&plan).map(|s| (s.name, s.age)).collect();
        assert_eq!(with, [("b", 40), ("c", 41), ("a", 5)]);
        assert_eq!(names(&students), ["a", "b"], "the model is untouched");

        let mut students = students;
        students.apply(plan);
        let after: Vec<(&str, u8)> = students.iter().map(|s| (s.name, s.age)).collect();
        assert_eq!(after, [("b", 40), ("c", 41), ("a", 5)]);
    }
}
