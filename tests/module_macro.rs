//! `#[module]`: parameter order and dotted names, buffers, the training flag through nested
//! containers, generic structs, and summaries.

use needle::nn::{Module, Training};
use needle::{module, Tensor};

#[module]
struct Lin {
    weight: Tensor,
    bias: Option<Tensor>,
    #[module(config)]
    in_features: usize,
}

fn lin(i: usize, o: usize, bias: bool) -> Lin {
    Lin {
        weight: Tensor::zeros(&[i, o]),
        bias: bias.then(|| Tensor::zeros(&[1, o])),
        in_features: i,
    }
}

#[module]
struct Block {
    lin1: Lin,
    #[module(buffer)]
    running: Tensor,
    training: Training,
    lin2: Lin,
    #[module(skip)]
    #[allow(dead_code)]
    note: String,
}

fn block() -> Block {
    Block {
        lin1: lin(2, 3, true),
        running: Tensor::zeros(&[3]),
        training: Training::default(),
        lin2: lin(3, 2, false),
        note: "unused".into(),
    }
}

#[module]
struct Net<B: Module> {
    first: Lin,
    blocks: Vec<B>,
    head: Option<Lin>,
    pair: [Lin; 2],
    extra: Vec<Tensor>,
}

fn net() -> Net<Block> {
    Net {
        first: lin(4, 2, true),
        blocks: vec![block(), block()],
        head: Some(lin(2, 1, true)),
        pair: [lin(1, 1, false), lin(1, 1, true)],
        extra: vec![Tensor::zeros(&[5])],
    }
}

#[test]
fn parameters_in_declaration_order_with_dotted_names() {
    let names: Vec<String> = net()
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        names,
        [
            "first.weight",
            "first.bias",
            "blocks.0.lin1.weight",
            "blocks.0.lin1.bias",
            "blocks.0.lin2.weight",
            "blocks.1.lin1.weight",
            "blocks.1.lin1.bias",
            "blocks.1.lin2.weight",
            "head.weight",
            "head.bias",
            "pair.0.weight",
            "pair.1.weight",
            "pair.1.bias",
            "extra.0",
        ]
    );
    let buffers: Vec<String> = net().named_buffers().into_iter().map(|(n, _)| n).collect();
    assert_eq!(buffers, ["blocks.0.running", "blocks.1.running"]);
    assert_eq!(
        net().num_parameters(),
        8 + 2 + 2 * (6 + 3 + 6) + 2 + 1 + 1 + 1 + 1 + 5
    );
    assert_eq!(net().parameters().len(), 14);
}

#[test]
fn train_and_eval_reach_every_nested_module() {
    let n = net();
    let flags =
        |n: &Net<Block>| -> Vec<bool> { n.blocks.iter().map(|b| b.training.get()).collect() };
    assert!(n.is_training());
    n.eval();
    assert_eq!(flags(&n), [false, false]);
    assert!(
        !n.is_training(),
        "a struct without its own flag reports its first sub-module's"
    );
    n.train();
    assert_eq!(flags(&n), [true, true]);
}

#[test]
fn summary_lists_children_and_config() {
    let b = block();
    assert_eq!(
        b.summary(),
        "Block(\n  (lin1): Lin(in_features=2)\n  (lin2): Lin(in_features=3)\n)"
    );
    let mut children = Vec::new();
    net().visit_modules(&mut |name, m| children.push(format!("{name}:{}", m.type_name())));
    assert_eq!(
        children,
        [
            "first:Lin",
            "blocks.0:Block",
            "blocks.1:Block",
            "head:Lin",
            "pair.0:Lin",
            "pair.1:Lin"
        ]
    );
}
