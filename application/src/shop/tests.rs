//! Given/when/then for the shop's numbering on the in-memory store: concurrent creations get
//! consecutive numbers, each taken in the same commit as the product it numbers, and a refused
//! creation takes no number.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::ShopError;
use super::catalog::product_stream;
use super::numbers::{next_number, sequence_stream, take};
use crate::command::CommandRunner;
use crate::event_store::EventMetadata;
use crate::in_memory::InMemoryEventStore;
use chrono::DateTime;
use std::sync::Arc;
use tessera_domain::shared::{Currency, FieldError, Money};
use tessera_domain::shop::product::{ProductCommand, ProductFields, ShopProduct};
use tessera_domain::shop::sequence::{SequenceKind, ShopSequence};

async fn create(runner: &CommandRunner, name: &str) -> Result<u64, ShopError> {
    let sequence_stream = sequence_stream(SequenceKind::Product)?;
    next_number(runner, SequenceKind::Product, |number| {
        let mut atomic = runner.atomic(&EventMetadata::default());
        let sequence = atomic.stream::<ShopSequence>(&sequence_stream);
        let stream = product_stream(number).unwrap();
        let product = atomic.stream::<ShopProduct>(&stream);
        let command = ProductCommand::Create {
            product_id: number,
            fields: ProductFields {
                category_id: 1,
                name: name.to_owned(),
                description: None,
                price: Money::from_minor(100, Currency::CNY).unwrap(),
                image_url: None,
                status: 1,
            },
            stock: 1,
            now: DateTime::UNIX_EPOCH,
        };
        async move {
            atomic
                .run(|d| {
                    take(
                        d,
                        sequence,
                        SequenceKind::Product,
                        number,
                        &stream,
                        DateTime::UNIX_EPOCH,
                    )?;
                    d.decide(product, &command)
                        .map_err(|e| e.map_rejected(ShopError::from))?;
                    Ok::<_, ShopError>(())
                })
                .await?;
            Ok(number)
        }
    })
    .await
}

#[tokio::test]
async fn concurrent_creations_get_consecutive_numbers_and_refusals_take_none() {
    let runner = CommandRunner::new(Arc::new(InMemoryEventStore::new()));
    let mut tasks = Vec::new();
    for i in 0..10 {
        let runner = runner.clone();
        tasks.push(tokio::spawn(async move {
            create(&runner, &format!("p{i}")).await
        }));
    }
    let mut numbers = Vec::new();
    for t in tasks {
        numbers.push(t.await.unwrap().unwrap());
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=10).collect::<Vec<u64>>());

    // A refused product (empty name) commits nothing: the counter stays at 10.
    let refused = create(&runner, "").await;
    assert!(
        matches!(refused, Err(ShopError::Field(FieldError { ref field, .. })) if field == "name")
    );
    let (sequence, _) = runner
        .load::<ShopSequence>(&sequence_stream(SequenceKind::Product).unwrap())
        .await
        .unwrap();
    assert_eq!(sequence.last(), 10);
    let (p, _) = runner
        .load::<ShopProduct>(&product_stream(7).unwrap())
        .await
        .unwrap();
    assert_eq!(p.product_id(), 7);
    assert_eq!(create(&runner, "next").await.unwrap(), 11);
}
