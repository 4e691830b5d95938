use sluice_dlp::*;
fn main() {
    let text = std::fs::read_to_string(std::env::args().nth(1).unwrap()).unwrap();
    let mut groups: Vec<(String, Vec<Identifier>)> = Identifier::ALL.iter().map(|i| (i.name().to_string(), vec![*i])).collect();
    groups.push(("ALL".into(), Identifier::ALL.to_vec()));
    let only: Vec<String> = std::env::args().skip(2).collect();
    if !only.is_empty() { groups.retain(|(n, _)| only.contains(n)); }
    for o in std::env::args().skip(2).filter(|a| a.starts_with('-')) {
        let names: Vec<&str> = o[1..].split(',').collect();
        groups.push((o.clone(), Identifier::ALL.iter().copied().filter(|i| !names.contains(&i.name())).collect()));
    }
    for (name, ids) in groups {
        let ents = ids.iter().map(|i| EntityDefinition::identifier(i.name(), *i)).collect();
        let names: Vec<&str> = ids.iter().map(|i| i.name()).collect();
        let e = Engine::new(Definitions::new(ents, vec![RuleDefinition::new("r", &names)], vec![])).unwrap().with_threads(1);
        let t = std::time::Instant::now();
        let r = e.scan_str(&text);
        println!("{name} {:.0} ms {}", t.elapsed().as_secs_f64()*1e3, r.rules[0].count);
    }
}
